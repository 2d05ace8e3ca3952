"""Pairs of hand-ins whose answer code is suspiciously alike.

Each code cell a student wrote is reduced to a sequence of tokens that survives the usual
disguises: the cell is parsed with :mod:`ast` (so line breaks, parentheses, quotes and comments
are gone), docstrings and other bare string statements are dropped, every name that is not a
Python builtin becomes ``V`` (renamed variables, functions and parameters), while attribute names
(``.reshape``), keyword names (``axis=``), operators and numbers stay. Runs of ``k`` tokens are
hashed and a subset of the hashes is kept by winnowing (Schleimer, Wilkerson and Aiken, "Winnowing:
local algorithms for document fingerprinting", SIGMOD 2003, the algorithm behind MOSS): every
shared run of at least ``window + k - 1`` tokens yields at least one shared fingerprint, whatever
order the functions or cells are in.

Two kinds of fingerprints are ignored, as MOSS does: those of the starter code (every code cell
of the released notebook in ``exercises/``), and boilerplate found in many hand-ins of the class
(more than ``max(boilerplate_min, boilerplate_share * hand-ins)`` of them: the idiom everyone
writes is no evidence). A pair's score is the Jaccard index of the two hand-ins' remaining
fingerprints; pairs at or above ``threshold`` that share at least ``min_shared`` fingerprints are
flagged, as is a pair with one answer cell that alike on its own (``min_shared`` fingerprints in
that cell). The report lists every answer cell of a flagged pair side by side with the lines that
carry shared fingerprints marked.

This is hand-written rather than built on copydetect: notebooks need per-cell starter code taken
from the release, hand-ins grouped per exercise, and line numbers of the student's original code
for the side-by-side view, and the course pins no extra dependency for it.
"""

from __future__ import annotations

import ast
import builtins
import hashlib
import io
import itertools
import re
import tokenize
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from grader.course import Repository
from grader.integrity import is_test_cell

BUILTIN_NAMES = frozenset(dir(builtins))
OTHER_CODE = "(other code cells)"  # cells the student added, without an answer-cell id
_MAGIC = re.compile(r"^\s*[%!?]")


@dataclass(frozen=True)
class Settings:
    """How fingerprints are taken and when a pair is flagged."""

    k: int = 6  # tokens per hashed run
    window: int = 3  # winnowing window, in runs
    threshold: float = 0.4  # Jaccard index at which a pair is flagged
    min_shared: int = 12  # shared fingerprints a flagged pair (or cell) needs at least
    boilerplate_share: float = 0.5  # fingerprints in more than this share of hand-ins ...
    boilerplate_min: int = 4  # ... and in more than this many hand-ins are ignored

    def __post_init__(self) -> None:
        if self.k < 1 or self.window < 1 or self.min_shared < 1 or self.boilerplate_min < 2:
            raise ValueError(f"invalid similarity settings: {self}")
        if not 0.0 < self.threshold <= 1.0 or not 0.0 < self.boilerplate_share <= 1.0:
            raise ValueError(f"threshold and boilerplate_share must lie in (0, 1]: {self}")


# ---------------------------------------------------------------------------------------------
# Normalised tokens


class _Linearise:
    """Pre-order walk of a syntax tree emitting (token, line) pairs."""

    def __init__(self, line_offset: int = 0) -> None:
        self.tokens: list[tuple[str, int]] = []
        self.offset = line_offset

    def emit(self, token: str, line: int) -> None:
        self.tokens.append((token, line + self.offset))

    def body(self, statements: list[ast.stmt], line: int) -> None:
        for statement in statements:
            if isinstance(statement, ast.Pass) or (
                isinstance(statement, ast.Expr)
                and isinstance(statement.value, ast.Constant)
                and isinstance(statement.value.value, str)
            ):
                continue  # docstrings, strings used as comments, `pass`
            self.visit(statement, line)

    def visit(self, node: ast.AST, line: int) -> None:
        line = getattr(node, "lineno", line)
        if isinstance(node, ast.expr_context):
            return
        if isinstance(node, ast.Name):
            self.emit(node.id if node.id in BUILTIN_NAMES else "V", line)
        elif isinstance(node, ast.arg):
            self.emit("arg", line)
            if node.annotation is not None:
                self.visit(node.annotation, line)
        elif isinstance(node, ast.Constant):
            self.emit(_constant(node.value), line)
        elif isinstance(node, ast.Attribute):
            self.visit(node.value, line)
            self.emit("." + node.attr, line)
        elif isinstance(node, ast.keyword):
            self.emit(f"{node.arg or '**'}=", line)
            self.visit(node.value, line)
        elif isinstance(node, (ast.alias, ast.Global, ast.Nonlocal)):
            self.emit(type(node).__name__, line)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            self.emit(type(node).__name__, line)
            for decorator in node.decorator_list:
                self.visit(decorator, line)
            if isinstance(node, ast.ClassDef):
                for base in [*node.bases, *node.keywords]:
                    self.visit(base, line)
            else:
                self.visit(node.args, line)
                if node.returns is not None:
                    self.visit(node.returns, line)
            self.body(node.body, line)
        else:
            self.emit(type(node).__name__, line)
            for _, value in ast.iter_fields(node):
                if isinstance(value, list) and value and isinstance(value[0], ast.stmt):
                    self.body(value, line)
                elif isinstance(value, list):
                    for item in value:
                        if isinstance(item, ast.AST):
                            self.visit(item, line)
                elif isinstance(value, ast.AST):
                    self.visit(value, line)


def _constant(value: object) -> str:
    if isinstance(value, bool) or value is None or value is Ellipsis:
        return repr(value)
    if isinstance(value, (int, float)):
        return repr(float(value))  # 0 and 0.0 alike
    if isinstance(value, complex):
        return "complex"
    return "str" if isinstance(value, str) else "bytes"


def _without_magics(source: str) -> str:
    """IPython magics and shell escapes blanked out (line numbers kept)."""
    return "\n".join("" if _MAGIC.match(line) else line for line in source.split("\n"))


def _tokens_without_parse(source: str, line_offset: int) -> list[tuple[str, int]]:
    """Code that does not parse: Python's tokenizer, names as ``V``, comments dropped."""
    tokens: list[tuple[str, int]] = []
    previous = ""
    try:
        for tok in tokenize.generate_tokens(io.StringIO(source).readline):
            line = tok.start[0] + line_offset
            if tok.type == tokenize.NAME:
                keyword = tok.string in _KEYWORDS
                text = tok.string if keyword or tok.string in BUILTIN_NAMES else "V"
                tokens.append(("." + tok.string if previous == "." else text, line))
            elif tok.type == tokenize.NUMBER:
                try:
                    tokens.append((repr(float(ast.literal_eval(tok.string))), line))
                except (ValueError, SyntaxError, TypeError):
                    tokens.append((tok.string, line))
            elif tok.type == tokenize.STRING:
                tokens.append(("str", line))
            elif tok.type == tokenize.OP and tok.string not in ".,:;()[]{}":
                tokens.append((tok.string, line))
            if tok.type not in (tokenize.NL, tokenize.NEWLINE, tokenize.COMMENT):
                previous = tok.string
    except (tokenize.TokenError, IndentationError, SyntaxError):
        pass  # keep what was read before the broken part
    return tokens


_KEYWORDS = frozenset(
    "False None True and as assert async await break class continue def del elif else except "
    "finally for from global if import in is lambda nonlocal not or pass raise return try while "
    "with yield".split()
)


def _blocks(lines: list[str]) -> list[tuple[int, str]]:
    """Top-level blocks of a cell: (first line index, text), split before unindented lines."""
    starts = [
        i
        for i, line in enumerate(lines)
        if line[:1] not in ("", " ", "\t", "#", ")", "]", "}")
        and not line.startswith(("else", "elif", "except", "finally"))
        and not (i and lines[i - 1].startswith("@"))  # a decorated definition stays whole
    ]
    if not starts or starts[0] != 0:
        starts.insert(0, 0)
    bounds = [*starts, len(lines)]
    return [(a, "\n".join(lines[a:b])) for a, b in itertools.pairwise(bounds) if a < b]


def _parsed_tokens(code: str, line_offset: int) -> list[tuple[str, int]]:
    """Tokens of code that parses; Python's tokenizer where the tree is too deep to walk."""
    walker = _Linearise(line_offset)
    tree = ast.parse(code)
    try:
        walker.body(tree.body, 1)
    except RecursionError:  # e.g. a sum of thousands of terms: one deep tree
        return _tokens_without_parse(code, line_offset)
    return walker.tokens


def normalized_tokens(source: str) -> list[tuple[str, int]]:
    """The cell's code as normalised tokens, each with its line number (1-based) in ``source``.

    A cell that does not parse is read block by block (top-level statements); a block that
    still does not parse falls back to Python's tokenizer.
    """
    code = _without_magics(source)
    try:
        return _parsed_tokens(code, 0)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        tokens: list[tuple[str, int]] = []
        for start, block in _blocks(code.split("\n")):
            try:
                tokens.extend(_parsed_tokens(block, start))
            except (SyntaxError, ValueError, RecursionError, MemoryError):
                tokens.extend(_tokens_without_parse(block, start))
        return tokens


# ---------------------------------------------------------------------------------------------
# Fingerprints


def _hash(tokens: list[str]) -> int:
    digest = hashlib.blake2b("\x1f".join(tokens).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


Run = tuple[int, tuple[int, ...]]  # hash of a run of tokens, the lines its tokens are on


def kgram_hashes(tokens: list[tuple[str, int]], k: int) -> list[Run]:
    """(hash, lines) of every run of ``k`` tokens (one run if there are fewer)."""
    runs = []
    for i in range(max(1, len(tokens) - k + 1) if tokens else 0):
        run = tokens[i : i + k]
        lines = tuple(sorted({line for _, line in run}))
        runs.append((_hash([t for t, _ in run]), lines))
    return runs


def winnow(runs: list[Run], window: int) -> list[Run]:
    """Winnowing: the rightmost smallest hash of every ``window`` consecutive runs, each once."""
    if len(runs) <= window:
        return [min(runs, key=lambda r: r[0])] if runs else []
    chosen: list[Run] = []
    last = -1
    for start in range(len(runs) - window + 1):
        best = start
        for i in range(start, start + window):
            if runs[i][0] <= runs[best][0]:
                best = i
        if best != last:
            chosen.append(runs[best])
            last = best
    return chosen


@dataclass
class CodeCell:
    """One cell of a hand-in: its key (answer-cell id), its code and fingerprints."""

    key: str
    source: str
    fingerprints: dict[int, set[int]]  # hash -> the lines (1-based) its runs cover


def fingerprint_cell(key: str, sources: list[str], settings: Settings) -> CodeCell:
    """Fingerprints of one or more cells shown as one (joined by a blank line).

    Each cell is fingerprinted on its own, so that no run of tokens spans two cells.
    """
    prints: dict[int, set[int]] = {}
    offset = 0
    for source in sources:
        tokens = [(t, line + offset) for t, line in normalized_tokens(source)]
        for value, lines in winnow(kgram_hashes(tokens, settings.k), settings.window):
            prints.setdefault(value, set()).update(lines)
        offset += source.count("\n") + 2
    return CodeCell(key, "\n\n".join(sources), prints)


def starter_hashes(sources: list[str], settings: Settings) -> set[int]:
    """Every run hash of the released code (not only the winnowed ones)."""
    return {
        value
        for source in sources
        for value, _ in kgram_hashes(normalized_tokens(source), settings.k)
    }


# ---------------------------------------------------------------------------------------------
# Hand-ins and pairs


@dataclass
class HandIn:
    student: str
    cells: list[CodeCell]

    def hashes(self) -> set[int]:
        return {h for cell in self.cells for h in cell.fingerprints}


@dataclass
class CellMatch:
    """One answer cell of a pair, side by side."""

    key: str
    score: float
    shared: int
    source_a: str
    source_b: str
    lines_a: list[int]  # lines (1-based) carrying fingerprints shared with the other hand-in
    lines_b: list[int]


@dataclass
class PairMatch:
    exercise: str
    notebook: str
    student_a: str
    student_b: str
    score: float  # Jaccard index of the two hand-ins' fingerprints
    shared: int
    flagged: bool
    cells: list[CellMatch] = field(default_factory=list)  # side by side, for flagged pairs


def _jaccard(a: set[int], b: set[int]) -> float:
    union = a | b
    return len(a & b) / len(union) if union else 0.0


def _marked_lines(cell: CodeCell, shared: set[int]) -> list[int]:
    return sorted({line for value in shared & cell.fingerprints.keys()
                   for line in cell.fingerprints[value]})


def compare_hand_ins(
    exercise: str,
    notebook: str,
    hand_ins: list[HandIn],
    starter: set[int],
    settings: Settings = Settings(),
) -> list[PairMatch]:
    """Every pair of ``hand_ins`` with its score, highest first (ties by student names).

    Flagged pairs carry their cells side by side (``PairMatch.cells``); the others do not.
    """
    counts = Counter(h for hand_in in hand_ins for h in hand_in.hashes())
    limit = max(settings.boilerplate_min, settings.boilerplate_share * len(hand_ins))
    ignored = starter | {h for h, n in counts.items() if n > limit}
    kept = {hand_in.student: hand_in.hashes() - ignored for hand_in in hand_ins}
    kept_cells = {
        hand_in.student: {cell.key: cell.fingerprints.keys() - ignored for cell in hand_in.cells}
        for hand_in in hand_ins
    }

    def alike(prints_a: set[int], prints_b: set[int]) -> bool:
        shared = len(prints_a & prints_b)
        return shared >= settings.min_shared and _jaccard(prints_a, prints_b) >= settings.threshold

    pairs: list[PairMatch] = []
    for a, b in itertools.combinations(sorted(hand_ins, key=lambda h: h.student), 2):
        cells_a, cells_b = kept_cells[a.student], kept_cells[b.student]
        shared = kept[a.student] & kept[b.student]
        flagged = alike(kept[a.student], kept[b.student]) or any(
            alike(prints, cells_b[key]) for key, prints in cells_a.items() if key in cells_b
        )
        pairs.append(
            PairMatch(
                exercise,
                notebook,
                a.student,
                b.student,
                _jaccard(kept[a.student], kept[b.student]),
                len(shared),
                flagged,
                _cell_matches(a, b, shared, kept_cells) if flagged else [],
            )
        )
    pairs.sort(key=lambda p: (-p.score, p.student_a, p.student_b))
    return pairs


def _cell_matches(
    a: HandIn, b: HandIn, shared: set[int], kept_cells: dict[str, dict[str, set[int]]]
) -> list[CellMatch]:
    """The cells of both hand-ins by key (a's order, then b's other cells)."""
    by_key_a = {c.key: c for c in a.cells}
    by_key_b = {c.key: c for c in b.cells}
    keys = [c.key for c in a.cells] + [c.key for c in b.cells if c.key not in by_key_a]
    empty = CodeCell("", "", {})
    matches = []
    for key in keys:
        cell_a, cell_b = by_key_a.get(key, empty), by_key_b.get(key, empty)
        prints_a = kept_cells[a.student].get(key, set())
        prints_b = kept_cells[b.student].get(key, set())
        matches.append(
            CellMatch(
                key,
                _jaccard(prints_a, prints_b),
                len(prints_a & prints_b),
                cell_a.source,
                cell_b.source,
                _marked_lines(cell_a, shared),
                _marked_lines(cell_b, shared),
            )
        )
    return matches


# ---------------------------------------------------------------------------------------------
# Reading notebooks


def _nbgrader(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {}) or {}


def released_cells(released) -> tuple[list[str], set[str], set[str]]:
    """(code of every released code cell, answer-cell ids, ids of every other graded cell)."""
    sources = [c.get("source", "") for c in released.cells if c.get("cell_type") == "code"]
    answers = {
        _nbgrader(c)["grade_id"]
        for c in released.cells
        if _nbgrader(c).get("solution") and c.get("cell_type") == "code"
    }
    others = {
        _nbgrader(c).get("grade_id")
        for c in released.cells
        if _nbgrader(c).get("grade_id") and not _nbgrader(c).get("solution")
    }
    return sources, answers, others


def hand_in_cells(nb, answers: set[str], locked: set[str], settings: Settings) -> list[CodeCell]:
    """The student's code: answer cells by id, then the code cells they added, as one."""
    cells: list[CodeCell] = []
    extra: list[str] = []
    for cell in nb.cells:
        if cell.get("cell_type") != "code" or is_test_cell(cell):
            continue
        grade_id = _nbgrader(cell).get("grade_id")
        if grade_id in answers and grade_id not in {c.key for c in cells}:
            cells.append(fingerprint_cell(grade_id, [cell.get("source", "")], settings))
        elif grade_id not in locked and cell.get("source", "").strip():
            extra.append(cell.get("source", ""))
    if extra:
        cells.append(fingerprint_cell(OTHER_CODE, extra, settings))
    return cells


def compare_notebooks(
    exercise: str,
    notebook: str,
    released,
    hand_ins: dict[str, object],
    settings: Settings = Settings(),
) -> list[PairMatch]:
    """Compare notebooks (student -> NotebookNode) handed in for one released notebook."""
    sources, answers, locked = released_cells(released)
    starter = starter_hashes(sources, settings)
    parsed = [
        HandIn(student, hand_in_cells(nb, answers, locked, settings))
        for student, nb in sorted(hand_ins.items())
    ]
    return compare_hand_ins(exercise, notebook, parsed, starter, settings)


def compare_class(
    repo: Repository, out: Path, settings: Settings = Settings()
) -> tuple[list[PairMatch], list[str]]:
    """Compare the hand-ins under ``out/submitted/`` per exercise notebook.

    Returns every pair (flagged or not) and notes about notebooks that could not be read.
    """
    submitted = out / "submitted"
    grouped: dict[tuple[str, str], dict[str, object]] = {}
    notes: list[str] = []
    if not submitted.is_dir():
        return [], [f"no {submitted} folder: nothing to compare"]
    for path in sorted(submitted.glob("*/*/*.ipynb")):
        student, exercise, notebook = path.parent.parent.name, path.parent.name, path.stem
        try:
            nb = nbformat.read(path, as_version=4)
        except Exception as exc:  # noqa: BLE001 - any unreadable file is only noted
            notes.append(f"{student}/{exercise}/{notebook}: not compared ({type(exc).__name__})")
            continue
        grouped.setdefault((exercise, notebook), {})[student] = nb
    pairs: list[PairMatch] = []
    for (exercise, notebook), hand_ins in sorted(grouped.items()):
        release = repo.exercises / exercise / f"{notebook}.ipynb"
        if not release.is_file():
            notes.append(f"{exercise}/{notebook}: no released notebook {release}; not compared")
            continue
        released = nbformat.read(release, as_version=4)
        pairs += compare_notebooks(exercise, notebook, released, hand_ins, settings)
    return pairs, notes
