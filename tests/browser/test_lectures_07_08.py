"""Lectures 07 and 08: each runs clean in JupyterLab, reproduces its stored outputs (compared
as nbval compares them; nbval itself no longer runs the lectures) and its widgets redraw."""

from __future__ import annotations

import pytest

from tests.browser._lecture_check import check_lecture, lectures_numbered


@pytest.mark.parametrize("name", lectures_numbered(7, 8))
def test_lecture_reproduces_its_outputs_and_its_widgets_redraw(
    name, shared_course_copy, jupyter_server, shared_lab_page
):
    lab = shared_lab_page(jupyter_server(shared_course_copy("lectures")))
    for line in check_lecture(lab, name):
        print(line)
