"""Lectures 01 and 02: each runs clean in JupyterLab, reproduces its stored outputs (compared
as nbval compares them; nbval itself no longer runs the lectures) and its widgets redraw."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.browser._lecture_check import (
    GROUPS,
    LECTURES_DIR,
    check_lecture,
    lectures_numbered,
    lectures_with_widgets,
)


@pytest.mark.parametrize("name", lectures_numbered(1, 2))
def test_lecture_reproduces_its_outputs_and_its_widgets_redraw(
    name, shared_course_copy, jupyter_server, shared_lab_page
):
    lab = shared_lab_page(jupyter_server(shared_course_copy("lectures")))
    for line in check_lecture(lab, name):
        print(line)


def test_every_lecture_is_in_exactly_one_browser_test_file():
    """A new lecture cannot be left out: its outputs are checked only by the browser tests.

    ``make test`` no longer runs nbval on ``lectures/``; ``check_lecture`` compares every
    lecture's outputs (and drives its widgets, if it has any), once.
    """
    here = Path(__file__).parent
    grouped = [name for group in GROUPS for name in lectures_numbered(*group)]
    lectures = sorted(path.stem for path in LECTURES_DIR.glob("[0-9][0-9]_*.ipynb"))
    assert lectures, f"no lecture notebook in {LECTURES_DIR}"
    assert sorted(set(grouped)) == sorted(grouped), f"a lecture is in two groups: {GROUPS}"
    missing = sorted(set(lectures) - set(grouped))
    assert missing == [], f"not in any group: {missing}"
    assert set(lectures_with_widgets()) <= set(grouped)
    for group in GROUPS:
        name = "test_lectures_" + "_".join(f"{n:02d}" for n in group) + ".py"
        assert (here / name).is_file(), f"group {group} has no test file {name}"
        assert f"lectures_numbered({', '.join(str(n) for n in group)})" in (
            here / name
        ).read_text(encoding="utf-8"), f"{name} does not check the lectures of group {group}"
