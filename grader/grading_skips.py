"""Cells the grader does not run: illustrations that cost grading time and earn no points.

Some exercises show, next to the student's work, what a weaker method does: ex10 trains a
vanilla RNN with the student's own training code after the graded LSTM, to show that it learns
nothing about the adding problem. The student runs that cell and reads its output; at grading
time it would only cost CPU (a second training run per hand-in), since no test reads what it
computes. An exercise marks such a cell in its SOURCE notebook (``solutions/``)::

    cell metadata: {"i2dl": {"skip_when_grading": true}, "nbgrader": {"locked": true, ...}}

Rules, so that skipping a cell can never change a score:

- The mark is read from the source notebook, never from a hand-in (its metadata is the
  student's to change); a hand-in's cell is skipped only while it is still the instructor's
  cell: same grade_id, same source, locked, neither graded nor an answer cell.
- A marked cell must be a locked code cell that is neither graded nor an answer cell, with a
  grade_id, and no later cell of the source notebook may read a name it binds.
  :func:`lint_skips` reports every breach (``i2dl-grader release`` refuses), and the grader
  runs a cell whose mark breaks a rule, as if it were not marked.
- What the lint cannot see is the author's to avoid: a marked cell must not change, in place,
  an object that later cells use. ``i2dl-grader validate`` grades the solution with the cell
  skipped, so such a dependency shows there as lost points.

The skipped cell keeps one output in the graded notebook and the feedback, :data:`SKIP_NOTE`.
``i2dl check`` (the student's self-check) still runs every cell.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path
from typing import Any

from grader.data_masks import source_notebook
from grader.hidden import _bindings, _without_magics

METADATA_KEY = "i2dl"
SKIP_FIELD = "skip_when_grading"
SKIP_NOTE = (
    "[i2dl-grader] Not run when grading: this cell illustrates and earns no points, and no later "
    "cell uses what it computes. Run it yourself to see its output.\n"
)


def _nbgrader(cell: dict[str, Any]) -> dict[str, Any]:
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return meta if isinstance(meta, dict) else {}


def is_marked(cell: dict[str, Any]) -> bool:
    meta = cell.get("metadata", {}).get(METADATA_KEY)
    return isinstance(meta, dict) and meta.get(SKIP_FIELD) is True


def _cell_problem(cell: dict[str, Any]) -> str | None:
    """Why a marked cell may not be skipped (None: it may), judged by the cell alone."""
    meta = _nbgrader(cell)
    if cell.get("cell_type") != "code":
        return "only a code cell can be skipped"
    if not meta.get("grade_id"):
        return "it has no nbgrader grade_id (make it a read-only cell in the Create Assignment bar)"
    if meta.get("grade") or meta.get("solution"):
        return "it is graded or an answer cell; only a read-only illustration can be skipped"
    if not meta.get("locked"):
        return "it is not locked (read-only), so a student could put work in it"
    return None


def _source(cell: dict[str, Any]) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else str(source)


def _outside_reads(code: str) -> set[str]:
    """Names a cell reads before it binds them itself: what it takes from earlier cells.

    Statement by statement: an assignment's reads all happen before it binds; a compound
    statement (loop, function, class, with...) binds its own names (loop targets, arguments)
    before its body reads them. Hidden-test regions are comments to Python, so their reads
    count too.
    """
    bound_before: set[str] = set()
    outside: set[str] = set()
    plain = (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Expr)
    for statement in ast.parse(_without_magics(code)).body:
        read, bound, imported = _bindings(statement)
        if isinstance(statement, ast.AugAssign) and isinstance(statement.target, ast.Name):
            read.add(statement.target.id)  # x += 1 reads x first
        own = set() if isinstance(statement, plain) else bound | imported
        outside |= read - bound_before - own
        bound_before |= bound | imported
    return outside


def _problems(nb: Any) -> list[tuple[str, str]]:
    """(grade_id or "cell N", problem) for every marked cell that may not be skipped."""
    cells = [c for c in nb.get("cells", []) if isinstance(c, dict)]
    problems: list[tuple[str, str]] = []
    for index, cell in enumerate(cells):
        grade_id = _nbgrader(cell).get("grade_id") or f"cell {index}"
        meta = cell.get("metadata", {}).get(METADATA_KEY)
        value = meta.get(SKIP_FIELD, False) if isinstance(meta, dict) else False
        if not isinstance(value, bool):
            problems.append((grade_id, f"its value is {value!r}; write true (or leave it out)"))
        if not is_marked(cell):
            continue
        problem = _cell_problem(cell)
        if problem is not None:
            problems.append((grade_id, problem))
            continue
        try:
            _, bound, imported = _bindings(ast.parse(_without_magics(_source(cell))))
        except SyntaxError as exc:
            problems.append((grade_id, f"it does not parse ({exc.msg})"))
            continue
        names = bound | imported
        for later in cells[index + 1:]:
            if later.get("cell_type") != "code":
                continue
            try:
                used = sorted(_outside_reads(_source(later)) & names)
            except SyntaxError:
                continue  # the hidden-test lint reports a cell that does not parse
            if used:
                later_id = _nbgrader(later).get("grade_id") or "a later cell"
                problems.append((grade_id, f"{later_id} uses {', '.join(used)}, which it "
                                           "defines; a cell that later cells depend on has to "
                                           "run when grading"))
                break
    return problems


def lint_skips(nb: Any, label: str) -> list[str]:
    """Problems with the cells a source notebook marks ``skip_when_grading``."""
    return [f"{label} {grade_id}: marked {SKIP_FIELD}, but {problem}"
            for grade_id, problem in _problems(nb)]


_cache: dict[tuple[str, int], dict[str, str]] = {}


def source_skips(source_notebook: Path) -> dict[str, str]:
    """grade_id -> source of every cell the source notebook may skip when grading.

    A missing or unreadable notebook skips nothing. Marks that break a rule are left out: the
    grader runs those cells (``lint_skips`` reports them).
    """
    try:
        key = (str(source_notebook), source_notebook.stat().st_mtime_ns)
    except OSError:
        return {}
    if key not in _cache:
        try:
            nb = json.loads(source_notebook.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        if not isinstance(nb, dict):
            return {}
        broken = {grade_id for grade_id, _ in _problems(nb)}
        skips = {}
        for cell in nb.get("cells", []):
            if isinstance(cell, dict) and is_marked(cell):
                grade_id = _nbgrader(cell).get("grade_id")
                if grade_id and grade_id not in broken:
                    skips[grade_id] = _source(cell)
        _cache[key] = skips
    return _cache[key]


def skips_for(config: Any, resources: dict) -> dict[str, str]:
    """The cells to skip in the notebook nbgrader is grading (see :func:`source_skips`)."""
    source = source_notebook(config, resources)
    return {} if source is None else source_skips(source)


def cells_to_skip(cells: list[Any], skips: dict[str, str]) -> set[int]:
    """Indices of the hand-in's cells that are still the instructor's marked cells."""
    if not skips:
        return set()
    ids = [_nbgrader(c).get("grade_id") for c in cells]
    chosen = set()
    for index, cell in enumerate(cells):
        grade_id = ids[index]
        if (
            grade_id in skips
            and ids.count(grade_id) == 1
            and _cell_problem(cell) is None
            and _source(cell) == skips[grade_id]
        ):
            chosen.add(index)
    return chosen
