"""What a student sees below an exercise's test cells in JupyterLab (issue 15, parts 1 and 5).

A test cell that passes shows one line, ``PASSED (visible checks) <what it tests> (N points)``;
a failing check shows its message first and the student's own line, without the frames of
``i2dl/testing.py``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from i2dl.testing import assert_close

EXERCISE = "ex01_linear_regression"
NOTEBOOK = f"{EXERCISE}/{EXERCISE}.ipynb"
PASS_PREFIX = "PASSED (visible checks)"
DOCSTRING_LINE = re.compile(r'^"""(?P<text>.*\(\d+ points?\))"""$')

# A common mistake: the column of ones put first instead of last.
WRONG_ADD_BIAS_COLUMN = "    A = np.column_stack([np.ones(X.shape[0]), X])\n    return A"


def graded_test_cells(notebook: Path) -> dict[int, str]:
    """Index -> first source line of every cell nbgrader grades (a test cell)."""
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    return {
        index: "".join(cell["source"]).splitlines()[0]
        for index, cell in enumerate(cells)
        if cell["cell_type"] == "code" and cell["metadata"].get("nbgrader", {}).get("grade")
    }


def cell_index(notebook: Path, grade_id: str) -> int:
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    found = [
        index for index, cell in enumerate(cells)
        if cell["metadata"].get("nbgrader", {}).get("grade_id") == grade_id
    ]
    assert len(found) == 1, f"{notebook} has {len(found)} cells with grade_id {grade_id!r}"
    return found[0]


@pytest.fixture
def course_root(shared_course_copy) -> Path:
    """The solved and the released exercise, in the session's shared folder: one JupyterLab
    serves them, and the lectures when this worker also checks lectures."""
    return shared_course_copy(f"solutions/{EXERCISE}", f"exercises/{EXERCISE}")


def test_a_solved_test_cell_shows_one_pass_line(course_root, jupyter_server, shared_lab_page):
    root = course_root
    path = f"solutions/{NOTEBOOK}"
    test_cells = graded_test_cells(root / path)
    assert len(test_cells) >= 5, f"{path}: expected its graded test cells, found {test_cells}"

    lab = shared_lab_page(jupyter_server(root))
    lab.open_notebook(path)
    lab.run_all(timeout_s=180)

    assert lab.error_outputs() == []
    for index, first_line in test_cells.items():
        docstring = DOCSTRING_LINE.match(first_line)
        assert docstring, f"test cell {index} does not start with a one-line docstring"
        assert lab.output_text(index).strip() == f"{PASS_PREFIX} {docstring['text']}", (
            f"test cell {index} of {path}"
        )
    # Only test cells say PASSED.
    for index in range(lab.cell_count()):
        if index not in test_cells:
            assert PASS_PREFIX not in lab.output_text(index), f"cell {index} is no test cell"
    assert lab.offsite_requests == []


def test_a_failing_check_shows_its_message_first_without_i2dl_frames(
    course_root, jupyter_server, shared_lab_page
):
    root = course_root
    released = root / "exercises" / NOTEBOOK
    # The student's copy, next to the released notebook (which the other test leaves alone).
    path = released.with_name(f"{EXERCISE}_wrong_bias.ipynb")
    nb = json.loads(released.read_text(encoding="utf-8"))
    answer = nb["cells"][cell_index(released, "add_bias_column")]
    source = "".join(answer["source"])
    stub = "    # YOUR CODE HERE\n    raise NotImplementedError()\n    return A"
    assert source.count(stub) == 1, f"the released add_bias_column cell changed:\n{source}"
    answer["source"] = source.replace(stub, WRONG_ADD_BIAS_COLUMN)
    path.write_text(json.dumps(nb), encoding="utf-8")
    test_index = cell_index(path, "test_add_bias_column")

    # The message the check gives for this answer, computed here with the same helper.
    X = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    with pytest.raises(AssertionError) as raised:
        assert_close(
            np.column_stack([np.ones(3), X]),
            np.array([[1.0, 2.0, 1.0], [3.0, 4.0, 1.0], [5.0, 6.0, 1.0]]),
            name="add_bias_column(X)",
        )
    message = f"AssertionError: {raised.value}"

    lab = shared_lab_page(jupyter_server(root))
    lab.open_notebook(str(path.relative_to(root)))
    lab.run_all(timeout_s=180)

    errors = lab.error_outputs()
    assert [(e["cell"], e["ename"]) for e in errors] == [(test_index, "AssertionError")], errors
    shown = lab.output_text(test_index)
    assert shown.startswith(message), f"the message is not shown first:\n{shown}"
    rest = shown[len(message):]
    # The student's line that ran the failed check is shown ...
    assert "assert_close(add_bias_column(X)" in rest, shown
    # ... and nothing of i2dl's own code.
    for frame_text in ("testing.py", "i2dl/", "_check_array", "def assert_close", "raise "):
        assert frame_text not in rest, f"{frame_text!r} in the failure output:\n{shown}"
    assert len([line for line in rest.splitlines() if line.strip()]) <= 12, shown
    assert PASS_PREFIX not in shown
    # Run all stopped at the failure: no later cell ran, and no test cell said PASSED.
    for index in range(lab.cell_count()):
        if index > test_index:
            assert lab.output_text(index).strip() == "", f"cell {index} ran after the failure"
        assert PASS_PREFIX not in lab.output_text(index), f"cell {index} says PASSED"
