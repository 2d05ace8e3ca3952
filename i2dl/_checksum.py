"""The checksum nbgrader stores in the metadata of the cells it releases.

nbgrader records, for every cell it manages, an MD5 digest of the cell's source, its type, its
role (graded answer or test, answer, read-only) and its id and points. A test cell whose digest
no longer matches its source was edited after the release. This is the same definition,
written out so that ``i2dl check`` and ``i2dl submit`` can tell without importing nbgrader (the
student package does not depend on it).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

__all__ = ["nbgrader_checksum", "is_test_cell", "is_locked_cell"]


def _source(cell: Mapping[str, Any]) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else str(source)


def _meta(cell: Mapping[str, Any]) -> Mapping[str, Any]:
    return cell.get("metadata", {}).get("nbgrader", {})


def is_test_cell(cell: Mapping[str, Any]) -> bool:
    """An autograded test cell: a graded code cell that is not an answer."""
    meta = _meta(cell)
    return cell.get("cell_type") == "code" and bool(meta.get("grade")) and not meta.get("solution")


def is_locked_cell(cell: Mapping[str, Any]) -> bool:
    """A cell nbgrader restores from the release before grading (tests and read-only cells)."""
    meta = _meta(cell)
    if not meta or meta.get("solution"):
        return False
    return bool(meta.get("grade")) or bool(meta.get("locked", False))


def nbgrader_checksum(cell: Mapping[str, Any]) -> str:
    """nbgrader's checksum of a cell that carries nbgrader metadata (with a ``grade_id``).

    The digest covers, in this order: the source, the cell type, ``str()`` of the grade flag, of
    the solution flag and of the locked flag (a solution is never locked, a graded cell always
    is), the ``grade_id`` and, for graded cells, ``str(float(points))``.
    """
    meta = _meta(cell)
    grade = meta.get("grade", False)
    solution = meta.get("solution", False)
    if solution:
        locked: Any = False
    elif grade:
        locked = True
    else:
        locked = meta.get("locked", False)
    digest = hashlib.md5(usedforsecurity=False)  # a fingerprint, not a security measure
    for part in (_source(cell), str(cell.get("cell_type")), str(grade), str(solution), str(locked),
                 str(meta["grade_id"])):
        digest.update(part.encode("utf-8"))
    if grade:
        digest.update(str(float(meta["points"])).encode("utf-8"))
    return digest.hexdigest()
