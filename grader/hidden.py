"""Reading hidden tests: where they are in a test cell and which names they take from outside.

A test cell's source is split into visible code (runs in the student's kernel) and hidden
regions (``### BEGIN HIDDEN TESTS`` to ``### END HIDDEN TESTS``, run by the trusted grader). A
hidden region binds its own names (``_rng``, ``_x``...) and imports what it needs; every other
name it reads is looked up in the student's kernel. :func:`lint_notebook` holds authors to that:
a hidden region must not rely on a name the notebook only imports (``load_digits``), since the
student could rebind it; it has to import it itself.
"""

from __future__ import annotations

import ast
import builtins
import functools

from nbformat import NotebookNode

from grader.integrity import is_test_cell

HIDDEN_BEGIN, HIDDEN_END = "BEGIN HIDDEN TESTS", "END HIDDEN TESTS"
# Modules every hidden region may use without importing them (the trusted side provides them).
SEEDED_NAMES = ("np", "math")
BUILTIN_NAMES = frozenset(dir(builtins))


def split_regions(source: str) -> list[tuple[bool, str]]:
    """``(hidden, code)`` pieces of a cell in order; an unterminated region runs to the end."""
    pieces: list[tuple[bool, list[str]]] = [(False, [])]
    for line in source.split("\n"):
        hidden = pieces[-1][0]
        if HIDDEN_BEGIN in line and not hidden:
            pieces.append((True, []))
        elif HIDDEN_END in line and hidden:
            pieces.append((False, []))
        else:
            pieces[-1][1].append(line)
    return [(hidden, "\n".join(lines)) for hidden, lines in pieces if "".join(lines).strip()]


def has_hidden_tests(source: str) -> bool:
    return any(hidden for hidden, _ in split_regions(source))


def _bindings(tree: ast.AST) -> tuple[set[str], set[str], set[str]]:
    """(names read, names bound by assignment/def/class/arguments, names bound by imports)."""
    read: set[str] = set()
    bound: set[str] = set()
    imported: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            (read if isinstance(node.ctx, ast.Load) else bound).add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(node.name)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            bound.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                imported.add((alias.asname or alias.name).split(".")[0])
        elif isinstance(node, (ast.Global, ast.Nonlocal)):
            bound.update(node.names)
        elif isinstance(node, (ast.MatchAs, ast.MatchStar)) and node.name:
            bound.add(node.name)
    return read, bound, imported


@functools.lru_cache(maxsize=256)  # a class's hand-ins share their hidden regions
def free_names(source: str) -> frozenset[str]:
    """Names ``source`` reads but neither binds nor imports, builtins and seeded names aside."""
    read, bound, imported = _bindings(ast.parse(source))
    return frozenset(read - bound - imported - BUILTIN_NAMES - set(SEEDED_NAMES))


def lint_notebook(nb: NotebookNode, label: str) -> list[str]:
    """Problems with how the hidden regions of a source notebook take names from outside."""
    defined: set[str] = set()
    imported: set[str] = set()
    problems: list[str] = []
    hidden_regions: list[tuple[str, str]] = []
    for cell in nb.cells:
        if cell.get("cell_type") != "code":
            continue
        grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id", "?")
        for hidden, code in split_regions(cell.get("source", "")):
            if hidden:
                hidden_regions.append((grade_id, code))
                continue
            try:
                _, bound, imports = _bindings(ast.parse(_without_magics(code)))
            except SyntaxError as exc:
                problems.append(f"{label} {grade_id}: cannot parse the visible code ({exc.msg})")
                continue
            defined |= bound
            imported |= imports
    for grade_id, code in hidden_regions:
        try:
            names = free_names(code)
        except SyntaxError as exc:
            problems.append(f"{label} {grade_id}: the hidden tests do not parse ({exc.msg})")
            continue
        only_imported = sorted(names & imported - defined)
        if only_imported:
            problems.append(
                f"{label} {grade_id}: the hidden tests use {', '.join(only_imported)}, which the "
                "notebook only imports; import it inside the hidden region (a name the hidden "
                "region does not bind is taken from the student's kernel)"
            )
        unknown = sorted(names - imported - defined)
        if unknown:
            problems.append(
                f"{label} {grade_id}: the hidden tests use {', '.join(unknown)}, which nothing in "
                "the notebook defines"
            )
    for cell in nb.cells:
        if is_test_cell(cell) and not has_hidden_tests(cell.get("source", "")):
            grade_id = cell["metadata"]["nbgrader"].get("grade_id", "?")
            problems.append(
                f"{label} {grade_id}: a test cell without hidden tests is decided by code the "
                "student controls; add a hidden region that checks the result"
            )
    return problems


def _without_magics(code: str) -> str:
    """Visible code with IPython magics and shell escapes blanked (they are not Python)."""
    return "\n".join(
        "" if line.lstrip().startswith(("%", "!")) else line for line in code.split("\n")
    )
