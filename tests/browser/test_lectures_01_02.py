"""Lectures 01 and 02: they run clean in JupyterLab and each widget redraws when a control moves."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.browser._lecture_check import (
    GROUPS,
    check_lecture,
    lectures_numbered,
    lectures_with_widgets,
)


@pytest.mark.parametrize("name", lectures_numbered(1, 2))
def test_lecture_runs_clean_and_its_widgets_redraw(
    name, shared_course_copy, jupyter_server, shared_lab_page
):
    lab = shared_lab_page(jupyter_server(shared_course_copy("lectures")))
    for line in check_lecture(lab, name):
        print(line)


def test_every_lecture_with_a_widget_is_in_a_browser_test_file():
    """A new lecture cannot be left out: the groups cover every lecture with a widget."""
    here = Path(__file__).parent
    covered = {name for group in GROUPS for name in lectures_numbered(*group)}
    with_widgets = set(lectures_with_widgets())
    assert with_widgets, "no lecture stores a widget output"
    assert with_widgets <= covered, f"not in any group: {sorted(with_widgets - covered)}"
    for group in GROUPS:
        name = "test_lectures_" + "_".join(f"{n:02d}" for n in group) + ".py"
        assert (here / name).is_file(), f"group {group} has no test file {name}"
