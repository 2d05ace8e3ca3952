"""i2dl._checksum: nbgrader's cell checksum, written without nbgrader, agrees with nbgrader's."""

from __future__ import annotations

import copy
from pathlib import Path

import nbformat
import pytest
from nbgrader.utils import compute_checksum

from i2dl._checksum import is_locked_cell, is_test_cell, nbgrader_checksum

pytestmark = pytest.mark.student

REPO = Path(__file__).resolve().parents[2]
RELEASED = sorted(REPO.glob("exercises/*/*.ipynb"))


def test_there_are_released_notebooks():
    assert len(RELEASED) >= 11


@pytest.mark.parametrize("path", RELEASED, ids=lambda p: p.stem)
def test_matches_nbgrader_and_the_stored_checksum_on_every_released_cell(path):
    nb = nbformat.read(path, as_version=4)
    cells = [c for c in nb.cells if "grade_id" in c.metadata.get("nbgrader", {})]

    assert cells
    for cell in cells:
        ours = nbgrader_checksum(cell)
        assert ours == compute_checksum(cell) == cell.metadata.nbgrader["checksum"], (
            cell.metadata.nbgrader["grade_id"])


def _cell(cell_type="code", source="x = 1", **meta):
    cell = nbformat.v4.new_code_cell(source) if cell_type == "code" else (
        nbformat.v4.new_markdown_cell(source))
    cell.metadata["nbgrader"] = {"grade_id": "c1", "schema_version": 3, **meta}
    return cell


@pytest.mark.parametrize(
    "cell",
    [
        _cell(grade=True, solution=False, locked=True, points=5),
        _cell(grade=True, solution=False, locked=False, points="2.5"),  # a graded cell is locked
        _cell(grade=True, solution=True, locked=False, points=3),  # a manually graded answer
        _cell("markdown", "Explain.", grade=True, solution=True, points=4),
        _cell(grade=False, solution=True, locked=False),
        _cell(grade=False, solution=False, locked=True),
        _cell(grade=False, solution=False),  # no locked key
        _cell(source="caf\u00e9 = '\u03c3'", grade=True, solution=False, locked=True, points=1),
    ],
)
def test_matches_nbgrader_on_every_kind_of_cell(cell):
    assert nbgrader_checksum(cell) == compute_checksum(cell)


def test_any_change_of_a_test_cell_changes_the_checksum():
    cell = _cell(grade=True, solution=False, locked=True, points=5)
    base = nbgrader_checksum(cell)
    edits = [("source", "x = 2"), ("cell_type", "markdown")]
    for key, value in edits:
        changed = copy.deepcopy(cell)
        changed[key] = value
        assert nbgrader_checksum(changed) != base, key
    for key, value in [("points", 6), ("grade_id", "c2"), ("grade", False)]:
        changed = copy.deepcopy(cell)
        changed.metadata.nbgrader[key] = value
        if key == "grade":
            changed.metadata.nbgrader.pop("points")
        assert nbgrader_checksum(changed) != base, key


def test_cell_kinds():
    assert is_test_cell(_cell(grade=True, solution=False, points=1))
    assert not is_test_cell(_cell(grade=True, solution=True, points=1))
    assert not is_test_cell(_cell("markdown", grade=True, solution=False, points=1))
    assert is_locked_cell(_cell(grade=True, solution=False, points=1))
    assert is_locked_cell(_cell(grade=False, solution=False, locked=True))
    assert not is_locked_cell(_cell(grade=False, solution=True, locked=True))
    assert not is_locked_cell(nbformat.v4.new_code_cell("x = 1"))
