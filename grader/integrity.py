"""What a student did to the test cells they were given.

Grading never trusts the student's copy of a test cell: nbgrader restores every test cell from
the instructor's source by its ``grade_id`` (and adds deleted ones back). This module only
*reports* what differed, precisely and without noise: an untouched cell is never mentioned,
whatever happened to its outputs or execution count.
"""

from __future__ import annotations

import copy
from collections import Counter

from nbformat import NotebookNode


def is_test_cell(cell) -> bool:
    """An autograded test cell: a graded code cell that is not an answer."""
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return cell.get("cell_type") == "code" and bool(meta.get("grade")) and not meta.get("solution")


def _test_cells(nb: NotebookNode) -> list[tuple[str, str]]:
    """(grade_id, source) of the autograded test cells, in order."""
    return [
        (cell["metadata"]["nbgrader"].get("grade_id", ""), cell.get("source", ""))
        for cell in nb.cells
        if is_test_cell(cell)
    ]


def _normalise(source: str) -> str:
    return "\n".join(line.rstrip() for line in source.strip().splitlines())


def describe_test_cell_changes(released: NotebookNode, submitted: NotebookNode) -> list[str]:
    """Describe every difference between the released and the submitted test cells."""
    given = {grade_id: _normalise(source) for grade_id, source in _test_cells(released)}
    handed_in = _test_cells(submitted)
    counts = Counter(grade_id for grade_id, _ in handed_in)
    by_source = {source: grade_id for grade_id, source in given.items()}
    changes: list[str] = []
    for grade_id, source in handed_in:
        if grade_id not in given:
            original = by_source.get(_normalise(source))
            was = f" (it is {original} re-labelled)" if original else ""
            changes.append(f"unknown test cell {grade_id!r}{was}: ignored")
    points = {
        c["metadata"]["nbgrader"]["grade_id"]: c["metadata"]["nbgrader"].get("points")
        for c in released.cells
        if c.get("metadata", {}).get("nbgrader", {}).get("grade")
    }
    for cell in submitted.cells:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        grade_id = meta.get("grade_id")
        if meta.get("grade") and grade_id in points and meta.get("points") != points[grade_id]:
            changes.append(
                f"{grade_id}: points changed to {meta.get('points')!r}; "
                f"worth {points[grade_id]} as released"
            )
    for grade_id, source in given.items():
        copies = [s for g, s in handed_in if g == grade_id]
        if not copies:
            stripped = any(
                _normalise(c.get("source", "")) == source
                and not c.get("metadata", {}).get("nbgrader", {}).get("grade")
                for c in submitted.cells
            )
            how = "its grading metadata was removed" if stripped else "deleted or re-labelled"
            changes.append(f"{grade_id}: {how}; restored from the source")
            continue
        if counts[grade_id] > 1:
            changes.append(f"{grade_id}: handed in {counts[grade_id]} times; graded once")
        if any(_normalise(s) != source for s in copies):
            changes.append(f"{grade_id}: edited; restored from the source")
    return changes


def clean_submission(released: NotebookNode, submitted: NotebookNode) -> NotebookNode:
    """A copy of ``submitted`` that nbgrader can grade whatever was done to its cells.

    Cells carrying a ``grade_id`` the release does not have (re-labelled) and every copy after
    the first of a ``grade_id`` (duplicated) lose their nbgrader metadata and run as ordinary
    cells; nbgrader then restores the real cells from the source. Cell ids are made unique.
    """
    known = {
        c["metadata"]["nbgrader"]["grade_id"]
        for c in released.cells
        if "grade_id" in c.get("metadata", {}).get("nbgrader", {})
    }
    nb = copy.deepcopy(submitted)
    seen_grade_ids: set[str] = set()
    seen_cell_ids: set[str] = set()
    for index, cell in enumerate(nb.cells):
        grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        if grade_id is not None:
            if grade_id not in known or grade_id in seen_grade_ids:
                del cell["metadata"]["nbgrader"]
            seen_grade_ids.add(grade_id)
        if "id" in cell:
            if cell["id"] in seen_cell_ids:
                cell["id"] = f"i2dl-renamed-{index}"
            seen_cell_ids.add(cell["id"])
    _restore_missing_cells(released, nb, seen_cell_ids)
    return nb


def _grade_id(cell) -> str | None:
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")


def _restore_missing_cells(released: NotebookNode, nb: NotebookNode, ids: set[str]) -> None:
    """Put back, as released, every nbgrader cell the hand-in lacks, after its predecessor.

    A deleted answer cell is then graded as unanswered (its starter code), and nbgrader, which
    restores deleted test cells after the cell that precedes them in the source, always finds
    that cell (an empty notebook or one without answer cells made it fail).
    """
    position = 0
    for cell in released.cells:
        grade_id = _grade_id(cell)
        if grade_id is None:
            continue
        found = next((i for i, c in enumerate(nb.cells) if _grade_id(c) == grade_id), None)
        if found is not None:
            position = found + 1
            continue
        restored = copy.deepcopy(cell)
        if "id" in restored:
            restored["id"] = f"i2dl-restored-{grade_id}"[:64]
            while restored["id"] in ids:
                restored["id"] = restored["id"][:60] + f"-{len(ids)}"
            ids.add(restored["id"])
        nb.cells.insert(position, restored)
        position += 1
