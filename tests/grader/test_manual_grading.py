"""Answers graded by hand: release, validate and autograde leave their points to the instructor.

A one-exercise course (I2DL_COURSE_ROOT) with one autograded test (2 points) and one written
answer (a markdown answer cell with 3 points) goes through the real command line.
"""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from tests.grader.conftest import run_cli

pytestmark = pytest.mark.grader

EX = "tiny"


def _meta(grade_id: str, *, grade: bool, solution: bool, points: int | None = None) -> dict:
    meta = {"grade": grade, "solution": solution, "locked": not solution, "grade_id": grade_id,
            "schema_version": 3, "task": False}
    if points is not None:
        meta["points"] = points
    return {"nbgrader": meta}


def _course(root: Path) -> Path:
    """solutions/tiny/tiny.ipynb under ``root``; exercises/ is made by ``release``."""
    answer = new_code_cell(
        "def square(x):\n    ### BEGIN SOLUTION\n    return x * x\n    ### END SOLUTION",
        metadata=_meta("square", grade=False, solution=True),
    )
    test = new_code_cell(
        '"""square (2 points)"""\nassert square(3) == 9, "square(3) should be 9"\n'
        "### BEGIN HIDDEN TESTS\n_x = 7.5\nassert square(_x) == 56.25\n### END HIDDEN TESTS",
        metadata=_meta("test_square", grade=True, solution=False, points=2),
    )
    question = new_markdown_cell("**Written task (3 points).** Why is $x^2 \\ge 0$?")
    written = new_markdown_cell(
        "### BEGIN SOLUTION\nA product of two numbers of the same sign is never negative.\n"
        "### END SOLUTION",
        metadata=_meta("why_nonnegative", grade=True, solution=True, points=3),
    )
    nb = new_notebook(cells=[answer, test, question, written], metadata={
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
    })
    path = root / "solutions" / EX / f"{EX}.ipynb"
    path.parent.mkdir(parents=True)
    (root / "exercises").mkdir()
    nbformat.write(nb, path)
    return root


def test_validate_expects_full_autograded_marks_and_names_the_answers_graded_by_hand(tmp_path):
    root = _course(tmp_path / "course")
    env = {"I2DL_COURSE_ROOT": str(root)}
    course_dir = str(tmp_path / "work")
    released = run_cli("--course-dir", course_dir, "release", EX, env=env)
    assert released.returncode == 0, released.stdout + released.stderr
    release = nbformat.read(root / "exercises" / EX / f"{EX}.ipynb", as_version=4)
    assert release.cells[3].source == "YOUR ANSWER HERE"
    proc = run_cli("--course-dir", course_dir, "validate", EX, "--no-progress", "--workers", "1",
                   env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.splitlines() == [
        "exercise  notebook  version   run 1  run 2  expected  result",
        "tiny      tiny      release   0      0      0         ok; graded by hand: "
        "why_nonnegative (3)",
        "tiny      tiny      solution  2      2      2         ok; graded by hand: "
        "why_nonnegative (3)",
        "",
        "2 of 2 checks passed",
    ]
    # autograding gives the written answer nothing, answered or not, and the feedback says why
    subs = tmp_path / "subs"
    for student, version in (("ann", "solutions"), ("ben", "exercises")):
        target = subs / student / EX / f"{EX}.ipynb"
        target.parent.mkdir(parents=True)
        target.write_bytes((root / version / EX / f"{EX}.ipynb").read_bytes())
    out = tmp_path / "out"
    graded = run_cli("autograde", str(subs), "--out", str(out), "--no-progress", env=env)
    assert graded.returncode == 0, graded.stdout + graded.stderr
    report = json.loads((out / "report.json").read_text())
    assert {(r["student"], r["score"], r["max_score"]) for r in report["submissions"]} == {
        ("ann", 2.0, 5.0), ("ben", 0.0, 5.0)}
    page = (out / "feedback" / "ann" / EX / f"{EX}.html").read_text()
    assert ('<tr><td>why_nonnegative</td><td>&ndash; / 3</td><td>a written answer: your '
            "instructor grades it</td><td>by hand</td></tr>") in page
    assert "<p>A product of two numbers of the same sign is never negative.</p>" in page

    # the class gradebook leaves the written answer to the instructor (Formgrader's "needs
    # manual grade"); an unchanged starter answer scores 0 without asking, as in nbgrader
    from nbgrader.api import Gradebook

    def grade_of(student):
        with Gradebook(f"sqlite:///{out / 'gradebook.db'}", "i2dl") as gb:
            g = gb.find_grade("why_nonnegative", EX, EX, student)
            return g.auto_score, g.manual_score, g.needs_manual_grade, g.score

    def comment_of(student):
        with Gradebook(f"sqlite:///{out / 'gradebook.db'}", "i2dl") as gb:
            return gb.find_comment("why_nonnegative", EX, EX, student).manual_comment

    assert grade_of("ann") == (None, None, True, 0.0)
    assert grade_of("ben")[2] is False
    with Gradebook(f"sqlite:///{out / 'gradebook.db'}", "i2dl") as gb:
        g = gb.find_grade("why_nonnegative", EX, EX, "ann")
        g.manual_score = 2.5
        gb.find_comment("why_nonnegative", EX, EX, "ann").manual_comment = "Say why."
        gb.db.commit()
    # regrading the same work keeps what the instructor entered ...
    again = run_cli("autograde", str(subs), "--out", str(out), "--no-progress", "--force",
                    env=env)
    assert again.returncode == 0, again.stdout + again.stderr
    assert grade_of("ann") == (None, 2.5, False, 2.5)
    assert comment_of("ann") == "Say why."
    # ... a changed hand-in starts over
    handed_in = subs / "ann" / EX / f"{EX}.ipynb"
    changed = nbformat.read(handed_in, as_version=4)
    changed.cells[3].source = "Squares of real numbers are products of equal signs."
    nbformat.write(changed, handed_in)
    third = run_cli("autograde", str(subs), "--out", str(out), "--no-progress", env=env)
    assert third.returncode == 0, third.stdout + third.stderr
    assert grade_of("ann") == (None, None, True, 0.0)
    assert comment_of("ann") is None
