"""Cells marked skip_when_grading: read from the source notebook only, linted, skipped in grading.

Unit level: which marks the lint refuses and why, which cells of a hand-in are still the
instructor's marked cell. End to end: one autograde run of a tiny exercise whose illustration
cell would fail loudly if it ran, with an honest hand-in and one that marks its own test cell.
"""

from __future__ import annotations

import json

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from grader.course import Repository
from grader.grading_skips import SKIP_NOTE, cells_to_skip, lint_skips, source_skips
from grader.sample import student_version, write_notebook
from grader.sandbox import sandbox_available
from tests.grader.conftest import REPO, read_grades, run_cli

pytestmark = pytest.mark.grader

MARK = {"skip_when_grading": True}
ILLUSTRATION = 'shown = [answer(k) for k in range(3)]\nprint("ILLUSTRATION RAN", shown)\n' \
               'raise RuntimeError("the illustration ran while grading")'
ANSWER = "def answer(k):\n    ### BEGIN SOLUTION\n    return 2 * k\n    ### END SOLUTION"
TEST = '''"""answer doubles (10 points)"""
assert answer(2) == 4, "answer(2) should be 4"
### BEGIN HIDDEN TESTS
assert answer(21) == 42, "answer(21) should be 42"
### END HIDDEN TESTS'''


def _nbgrader(grade_id: str, **flags) -> dict:
    meta = {"grade": False, "solution": False, "locked": False, "task": False}
    meta.update(flags, grade_id=grade_id, schema_version=3)
    return {"nbgrader": meta}


def _exercise(illustration_metadata: dict | None = None, after: str = "x = 1"):
    illustration = _nbgrader("illustration", locked=True)
    illustration["i2dl"] = MARK
    illustration.update(illustration_metadata or {})
    nb = new_notebook(cells=[
        new_code_cell("import math", metadata=_nbgrader("setup", locked=True)),
        new_code_cell(ANSWER, metadata=_nbgrader("answer", solution=True)),
        new_code_cell(ILLUSTRATION, metadata=illustration),
        new_code_cell(after, metadata=_nbgrader("after", locked=True)),
        new_code_cell(TEST, metadata=_nbgrader("test_answer", grade=True, locked=True,
                                               points=10)),
    ])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    return nb


def test_a_read_only_illustration_nothing_later_uses_may_be_skipped(tmp_path):
    nb = _exercise()
    assert lint_skips(nb, "ex") == []
    path = write_notebook(nb, tmp_path / "ex.ipynb")
    assert source_skips(path) == {"illustration": ILLUSTRATION}
    assert source_skips(tmp_path / "missing.ipynb") == {}


@pytest.mark.parametrize(("change", "problem"), [
    ({"nbgrader": {**_nbgrader("illustration")["nbgrader"]}},
     "it is not locked (read-only), so a student could put work in it"),
    ({"nbgrader": {**_nbgrader("illustration", locked=True, solution=True)["nbgrader"]}},
     "it is graded or an answer cell"),
    ({"nbgrader": {**_nbgrader("illustration", locked=True, grade=True, points=1)["nbgrader"]}},
     "it is graded or an answer cell"),
    ({"nbgrader": {"locked": True}}, "it has no nbgrader grade_id"),
])
def test_a_mark_on_a_cell_that_could_hold_work_or_points_is_refused(tmp_path, change, problem):
    nb = _exercise(change)
    problems = lint_skips(nb, "ex.ipynb")
    assert len(problems) == 1 and problem in problems[0], problems
    assert "marked skip_when_grading, but" in problems[0]
    # The grader runs such a cell: the source offers nothing to skip.
    assert source_skips(write_notebook(nb, tmp_path / "ex.ipynb")) == {}


@pytest.mark.parametrize("after", [
    "print(shown)",  # reads a name the illustration binds
    "total = 0\nfor k in range(3):\n    total += len(shown)",
    "def later():\n    return shown\n",
    "### BEGIN HIDDEN TESTS\nassert shown\n### END HIDDEN TESTS",
    "shown += [1]",
])
def test_a_cell_whose_names_a_later_cell_reads_must_run(tmp_path, after):
    nb = _exercise(after=after)
    problems = lint_skips(nb, "ex.ipynb")
    assert problems == [
        "ex.ipynb illustration: marked skip_when_grading, but after uses shown, which it "
        "defines; a cell that later cells depend on has to run when grading"
    ]
    assert source_skips(write_notebook(nb, tmp_path / "ex.ipynb")) == {}


@pytest.mark.parametrize("after", [
    "shown = [0]\nprint(shown)",  # binds the name itself before reading it
    "for shown in range(2):\n    print(shown)",
    "def later(shown):\n    return shown\n",
])
def test_a_later_cell_that_binds_the_name_itself_does_not_depend_on_it(after):
    assert lint_skips(_exercise(after=after), "ex.ipynb") == []


def test_a_mark_that_is_not_true_or_false_is_reported_and_skips_nothing(tmp_path):
    nb = _exercise({"i2dl": {"skip_when_grading": "yes"}})
    assert lint_skips(nb, "ex") == [
        "ex illustration: marked skip_when_grading, but its value is 'yes'; write true (or "
        "leave it out)"
    ]
    assert source_skips(write_notebook(nb, tmp_path / "ex.ipynb")) == {}


def test_a_markdown_cell_cannot_be_marked():
    nb = _exercise()
    nb.cells.insert(0, new_markdown_cell("text", metadata={"i2dl": MARK}))
    assert lint_skips(nb, "ex") == [
        "ex cell 0: marked skip_when_grading, but only a code cell can be skipped"
    ]


def test_only_the_instructors_cell_is_skipped_in_a_hand_in():
    skips = {"illustration": ILLUSTRATION}
    hand_in = _exercise().cells
    assert cells_to_skip(hand_in, skips) == {2}
    assert cells_to_skip(hand_in, {}) == set()
    edited = _exercise().cells
    edited[2].source = ILLUSTRATION + "\nprint('mine')"
    assert cells_to_skip(edited, skips) == set()
    # a test cell or an answer cell under the marked id runs
    for flags in ({"grade": True, "points": 10}, {"solution": True}):
        renamed = _exercise().cells
        renamed[2].metadata["nbgrader"].update(flags)
        assert cells_to_skip(renamed, skips) == set()
    twice = _exercise().cells
    twice.append(nbformat.from_dict(dict(twice[2])))
    assert cells_to_skip(twice, skips) == set()


def test_the_released_notebook_keeps_no_mark_and_ex10_marks_its_rnn_comparison():
    source = json.loads((REPO.solutions / "ex10_rnn_lstm" / "ex10_rnn_lstm.ipynb").read_text())
    marked = [c["metadata"]["nbgrader"]["grade_id"] for c in source["cells"]
              if c["metadata"].get("i2dl", {}).get("skip_when_grading")]
    assert marked == ["compare_rnn"]
    released = json.loads((REPO.exercises / "ex10_rnn_lstm" / "ex10_rnn_lstm.ipynb").read_text())
    assert not [c for c in released["cells"] if "i2dl" in c["metadata"]]


@pytest.mark.skipif(not sandbox_available(), reason="bubblewrap is not installed")
def test_autograde_skips_the_marked_cell_of_the_source_and_nothing_a_hand_in_marks(tmp_path):
    from grader.release import release

    course = Repository(tmp_path / "course")
    write_notebook(_exercise(), course.solutions / "exskip" / "exskip.ipynb")
    release(course, ["exskip"], tmp_path / "release-work")
    subs = tmp_path / "subs"
    write_notebook(student_version(course, "exskip", "exskip"),
                   subs / "honest" / "exskip" / "exskip.ipynb")
    # A wrong answer whose hand-in marks its own test cell (and unmarks the illustration).
    sneaky = student_version(course, "exskip", "exskip",
                             rewrite={"answer": lambda _s: "def answer(k):\n    return 0"})
    for cell in sneaky.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id == "test_answer":
            cell.metadata["i2dl"] = MARK
        if grade_id == "illustration":
            cell.metadata.pop("i2dl", None)
    write_notebook(sneaky, subs / "sneaky" / "exskip" / "exskip.ipynb")

    out = tmp_path / "out"
    proc = run_cli("autograde", str(subs), "--out", str(out), "--no-progress",
                   env={"I2DL_COURSE_ROOT": str(course.root)})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    rows = {student: (r["score"], r["status"]) for student, r in read_grades(out).items()}
    assert rows == {"honest": ("10", "ok"), "sneaky": ("0", "ok")}

    def outputs(student: str) -> dict[str, list]:
        graded = nbformat.read(out / "autograded" / student / "exskip" / "exskip.ipynb",
                               as_version=4)
        return {c.metadata["nbgrader"]["grade_id"]: c.outputs for c in graded.cells
                if c.cell_type == "code"}

    for student in rows:
        shown = outputs(student)
        assert shown["illustration"] == [
            {"output_type": "stream", "name": "stdout", "text": SKIP_NOTE}
        ]
        assert "ILLUSTRATION RAN" not in json.dumps(shown)
    errors = [o for o in outputs("sneaky")["test_answer"] if o["output_type"] == "error"]
    assert errors and "answer(2) should be 4" in errors[0]["evalue"]
    feedback = (out / "feedback" / "honest" / "exskip" / "exskip.html").read_text()
    assert "Not run when grading" in feedback


def test_release_refuses_a_mark_the_grader_could_not_honour(tmp_path):
    from grader.course import GraderError
    from grader.release import release

    course = Repository(tmp_path / "course")
    write_notebook(_exercise(after="print(shown)"), course.solutions / "exskip" / "exskip.ipynb")
    with pytest.raises(GraderError) as refused:
        release(course, ["exskip"], tmp_path / "release-work")
    assert "cell marked skip_when_grading cannot be skipped" in str(refused.value)
    assert "exskip.ipynb illustration: marked skip_when_grading, but after uses shown" in str(
        refused.value)
    assert not (course.exercises / "exskip").exists()
