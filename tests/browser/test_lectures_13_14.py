"""Lectures 13 and 14: they run clean in JupyterLab and each widget redraws when a control moves."""

from __future__ import annotations

import pytest

from tests.browser._lecture_check import check_lecture, lectures_numbered


@pytest.mark.parametrize("name", lectures_numbered(13, 14))
def test_lecture_runs_clean_and_its_widgets_redraw(
    name, shared_course_copy, jupyter_server, shared_lab_page
):
    lab = shared_lab_page(jupyter_server(shared_course_copy("lectures")))
    for line in check_lecture(lab, name):
        print(line)
