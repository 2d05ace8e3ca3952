"""Compare a JupyterLab run of a notebook with its stored outputs exactly as nbval would.

``make test`` runs every lecture once, in JupyterLab (``_lecture_check.check_lecture``), instead
of a second time under nbval. This module makes the comparison nbval made, with nbval 0.11's
semantics (``pytest --nbval``, not ``--nbval-lax`` or ``--nbdime``), on the kernel messages
JupyterLab received for each cell (``LabPage.record_kernel_messages``):

- Only code cells are checked; nbval numbers them ``Cell 0``, ``Cell 1``, ... (code cells only).
- A cell's options come from its metadata tags (``nbval-ignore-output``, ``nbval-check-output``,
  ``nbval-skip``, ``nbval-raises-exception``, ``raises-exception``, and the old
  ``pytest-validate-ignore-output``) and from ``# NBVAL_...`` comments in its source, which win
  over tags. A skipped cell is neither run nor compared; a cell whose output is ignored is run
  but not compared; an error fails a cell unless it is expected to raise, in which case the
  error's ``ename`` and ``evalue`` are compared like any other output.
- A cell whose stored ``execution_count`` is empty is run but not compared, and fails if it
  stores outputs.
- The run's outputs are what the kernel sent on iopub for the cell until it went idle:
  ``stream``, ``display_data``, ``execute_result`` and ``error``. nbval ignores every other
  message, so ``clear_output`` clears nothing and ``update_display_data`` updates nothing, and
  output sent while an ``ipywidgets.Output`` captures it still counts as the cell's output. This
  is why the kernel's messages are compared and not JupyterLab's output model: JupyterLab applies
  ``clear_output`` and display updates, hands captured output to the widget, and resolves
  ``\\r`` with terminal semantics (``"abcdef\\rXY"`` shows as ``"XYcdef"``, nbval keeps
  ``"XY"``), turns ``"\\r\\n"`` into ``"\\n"`` (nbval keeps it) and resolves ``\\b``.
- Streams of the same name are merged (even when other outputs come between them) with nbval's
  ``coalesce_streams``, on both sides; it drops the text of a line before a ``\\r`` that no
  newline follows. It means to resolve ``\\b`` too, but in nbval 0.11 that loop never runs, so
  a backspace stays in the text and is compared as it is.
- Outputs are compared per key, not per output: each stream name (``stdout``, ``stderr``), each
  MIME type and ``ename``/``evalue`` collect their values in order, so the order of outputs of
  different kinds does not matter, while ``output_type`` (``execute_result`` against
  ``display_data``), ``metadata``, ``execution_count``, ``traceback``, widget views
  (``application/vnd.jupyter.widget-view+json``: model ids change every run) and images
  (``image/png``, ``image/jpeg``) are not compared. Every other MIME type is (``text/plain``,
  ``text/html``, ``text/latex``, JSON ...).
- Every string compared is sanitised first with the regex/replace pairs of
  ``lectures/sanitize.cfg``, read with nbval's ``get_sanitize_patterns``.

nbval's module-level functions are reused (``find_metadata_tags``, ``find_comment_markers``,
``coalesce_streams``, ``transform_streams_for_comparison``, ``get_sanitize_patterns``,
``_trim_base64``, ``_indent``); what nbval does in methods of its pytest collector and items is
mirrored below, each function naming the method it follows. nbval reports only the first
difference of a cell (as here), but one failing item per cell; :func:`nbval_failures` returns
every failing cell.

nbval runs cells one by one; JupyterLab's "Run all" sends them all at once, so
``_lecture_check.run_like_nbval`` empties the cells nbval skips and tags those nbval lets raise
``raises-exception`` (or the kernel would drop every cell queued after their error). Not
mirrored: nbval's time limit per cell (``make test`` gave it 120 s; the browser run allows 300 s
for a whole lecture), and nbval's refusal of ``input()`` (JupyterLab offers a prompt, so a lecture
asking for input would fail only when its run times out).
"""

from __future__ import annotations

import copy
import difflib
import json
import re
import warnings
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat
from nbformat import NotebookNode
from nbval.plugin import (
    _indent,
    _trim_base64,
    coalesce_streams,
    find_comment_markers,
    find_metadata_tags,
    get_sanitize_patterns,
    transform_streams_for_comparison,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
SANITIZE_FILE = REPO_ROOT / "lectures" / "sanitize.cfg"

# What nbval leaves out of the comparison (``IPyNbFile.__init__``'s ``skip_compare`` without
# ``--nbdime``): top-level output keys and MIME types of ``data``.
SKIP_COMPARE: tuple[str, ...] = (
    "metadata",
    "traceback",
    "prompt_number",
    "output_type",
    "name",
    "execution_count",
    "application/vnd.jupyter.widget-view+json",
    "image/png",
    "image/jpeg",
)

def load_sanitize_patterns(path: Path | None = SANITIZE_FILE) -> dict[str, str]:
    """Regex -> replacement, in file order (mirrors ``IPyNbFile.setup_sanitize_files``)."""
    if path is None:
        return {}
    return dict(get_sanitize_patterns(Path(path).read_text(encoding="utf-8")))


def sanitize(value: Any, patterns: Mapping[str, str]) -> Any:
    """Apply every pattern to a string; leave anything else alone (``IPyNbCell.sanitize``)."""
    if not isinstance(value, str):
        return value
    for regex, replace in patterns.items():
        value = re.sub(regex, replace, value)
    return value


def nbval_options(cell: Mapping[str, Any], lax: bool = False) -> defaultdict[str, bool]:
    """nbval's options for a code cell: ``check``, ``skip``, ``check_exception``.

    Mirrors ``IPyNbFile.collect``: tags first, then comment markers in the source (which win);
    ``check`` defaults to on (off under ``--nbval-lax``). nbval's warnings about conflicting
    markers are left out. A missing option reads as ``False``.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        options = defaultdict(bool, find_metadata_tags(cell.get("metadata", {})))
        options.update(dict(find_comment_markers(cell.get("source", ""))))
    options.setdefault("check", not lax)
    return options


def code_cells(nb: NotebookNode) -> list[tuple[int, int, NotebookNode]]:
    """``(nbval's cell number, notebook index, cell)`` of every code cell."""
    found = []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            found.append((len(found), index, cell))
    return found


def cells_nbval_skips(nb: NotebookNode) -> list[int]:
    """Notebook indices of the code cells nbval does not run."""
    return [index for _, index, cell in code_cells(nb) if nbval_options(cell)["skip"]]


def cells_nbval_lets_raise(nb: NotebookNode) -> list[int]:
    """Notebook indices of the code cells whose error nbval compares instead of failing on."""
    return [
        index for _, index, cell in code_cells(nb)
        if not nbval_options(cell)["skip"] and nbval_options(cell)["check_exception"]
    ]


@dataclass
class CellRun:
    """What the kernel sent for one cell, as nbval collects it (see :func:`cell_run`)."""

    outputs: list[NotebookNode]
    # The first error output, when the cell was not expected to raise: nbval fails the cell
    # on it and compares nothing.
    error: NotebookNode | None = None
    # Whether the kernel went idle for this cell among the messages given.
    finished: bool = False


def cell_run(messages: Iterable[Mapping[str, Any]], check_exception: bool = False) -> CellRun:
    """The outputs nbval records for a cell from its iopub messages, in order of arrival.

    Each message needs ``msg_type`` and ``content`` (its ``parent_header`` must already be the
    cell's execute request). Mirrors the message loop of ``IPyNbCell.runtest``: reading stops
    at status ``idle``; ``execute_input`` and ``comm_*`` are skipped; ``display_data`` and
    ``execute_result`` keep ``data`` and ``metadata`` (and ``execution_count``); ``stream``
    keeps ``name`` and ``text``; ``error`` keeps ``ename``, ``evalue`` and ``traceback`` and,
    unless the cell is expected to raise, ends the cell as a failure; every other type
    (``clear_output``, ``update_display_data``, ...) is ignored. Streams are then merged with
    nbval's ``coalesce_streams``.
    """
    outs: list[NotebookNode] = []
    run = CellRun(outputs=outs)
    for msg in messages:
        msg_type = msg["msg_type"]
        reply = msg["content"]
        out = NotebookNode(output_type=msg_type)
        if msg_type == "status":
            if reply["execution_state"] == "idle":
                run.finished = True
                break
            continue
        if msg_type in ("execute_input", "execute_reply") or msg_type.startswith("comm"):
            continue
        if msg_type in ("display_data", "execute_result"):
            out["metadata"] = reply["metadata"]
            out["data"] = reply["data"]
            outs.append(out)
            if msg_type == "execute_result":
                out.execution_count = reply["execution_count"]
        elif msg_type == "stream":
            out.name = reply["name"]
            out.text = reply["text"]
            outs.append(out)
        elif msg_type == "error":
            out["ename"] = reply["ename"]
            out["evalue"] = reply["evalue"]
            out["traceback"] = reply["traceback"]
            outs.append(out)
            if not check_exception:
                run.error = out  # nbval fails the cell here, comparing nothing
                break
    run.outputs = coalesce_streams(outs)
    return run


def _shown(value: Any) -> str:
    """A compared value as nbval prints it (long base64 trimmed to a digest)."""
    if isinstance(value, str):
        return _trim_base64(value)
    return json.dumps(value, indent=1, sort_keys=True, ensure_ascii=False)


def _by_key(
    outputs: Iterable[Mapping[str, Any]], patterns: Mapping[str, str], skip: Sequence[str]
) -> defaultdict[str, list[Any]]:
    """Key -> every sanitised value for it, in order; ``data`` is flattened into MIME types."""
    values: defaultdict[str, list[Any]] = defaultdict(list)
    for output in outputs:
        for key in output.keys():
            if key in skip:
                continue
            if key == "data":
                for mime in output[key].keys():
                    if mime not in skip:
                        values[mime].append(sanitize(output[key][mime], patterns))
            else:
                values[key].append(sanitize(output[key], patterns))
    return values


def compare_outputs(
    test: list[NotebookNode],
    ref: list[NotebookNode],
    patterns: Mapping[str, str],
    skip_compare: Sequence[str] = SKIP_COMPARE,
) -> list[str]:
    """How the run's outputs (``test``) differ from the stored ones (``ref``); ``[]`` if not.

    Both must already have their streams coalesced. Mirrors ``IPyNbCell.compare_outputs`` (and
    its reports, ``format_output_compare``): values are grouped by key (see the module's
    docstring), the sets of keys must agree, then the number of values of each key, then each
    value; the first difference is reported with the expected (stored) and the actual (run)
    value, both sanitised.
    """
    expected = _by_key(transform_streams_for_comparison(ref), patterns, skip_compare)
    actual = _by_key(transform_streams_for_comparison(test), patterns, skip_compare)

    missing = set(expected) - set(actual)
    if missing:
        return [f"missing output fields from the run: {sorted(missing)}"] + [
            line for key in sorted(missing)
            for line in (f"  expected {key!r} (stored):", *_values(expected[key]))
        ]
    unexpected = set(actual) - set(expected)
    if unexpected:
        return [f"unexpected output fields from the run: {sorted(unexpected)}"] + [
            line for key in sorted(unexpected)
            for line in (f"  got {key!r} (run):", *_values(actual[key]))
        ]
    for key, ref_values in expected.items():
        test_values = actual[key]
        if len(test_values) != len(ref_values):
            return [
                f"dissimilar number of outputs for key {key!r}: {len(ref_values)} stored, "
                f"{len(test_values)} from the run",
                "  expected (stored):", *_values(ref_values),
                "  got (run):", *_values(test_values),
            ]
        pairs = zip(ref_values, test_values, strict=True)
        for number, (ref_value, test_value) in enumerate(pairs, 1):
            if ref_value != test_value:
                return _mismatch(key, number, len(ref_values), ref_value, test_value)
    return []


def _values(values: list[Any]) -> list[str]:
    return [_indent(_shown(value), "    ") or "    ''" for value in values]


def _mismatch(key: str, number: int, count: int, expected: Any, got: Any) -> list[str]:
    shown_expected, shown_got = _values([expected]), _values([got])
    lines = [
        f"mismatch {key!r} (output {number} of {count} with this key)",
        "  expected (stored):", *shown_expected,
        "  got (run):", *shown_got,
    ]
    if shown_expected == shown_got:
        lines.append(f"  (they differ only in what is not shown: {expected!r} != {got!r})")
    else:
        diff = difflib.unified_diff(
            _shown(expected).splitlines(), _shown(got).splitlines(), "stored", "run",
            lineterm="", n=1,
        )
        lines += ["  diff:", *(f"    {line}" for line in diff)]
    return lines


@dataclass(frozen=True)
class CellFailure:
    """A code cell nbval would fail."""

    cell: int  # nbval's number: the cell's position among the code cells
    index: int  # the cell's position in the notebook
    reason: str
    details: tuple[str, ...]
    source: str

    def describe(self) -> str:
        return "\n".join(
            [
                f"Cell {self.cell} (notebook cell {self.index}): {self.reason}",
                *self.details,
                "  input:",
                _indent(self.source, "    ") or "    (empty)",
            ]
        )


def nbval_failures(
    stored: Path | NotebookNode,
    runs: Mapping[int, Sequence[Mapping[str, Any]] | None],
    sanitize_file: Path | None = SANITIZE_FILE,
    lax: bool = False,
) -> list[CellFailure]:
    """Every code cell of the stored notebook that nbval would fail, given a run's messages.

    ``runs`` maps a notebook cell index to the iopub messages the kernel sent for that cell's
    execution (see :func:`cell_run`); a cell missing from it was not run. A cell whose source is
    blank may be missing: JupyterLab does not send it to the kernel, and nbval's run of it
    gives no output. Mirrors the end of ``IPyNbCell.runtest``, after the kernel's messages
    are read: skip, fail on an unexpected error, fail when a never-run stored cell has outputs,
    then compare (unless the output is ignored or the stored cell was never run).
    """
    nb = stored if isinstance(stored, NotebookNode) else nbformat.read(stored, as_version=4)
    patterns = load_sanitize_patterns(sanitize_file)
    failures = []
    for number, index, cell in code_cells(nb):
        options = nbval_options(cell, lax=lax)
        if options["skip"]:
            continue

        def fail(reason: str, details: Iterable[str] = (), *, number=number, index=index,
                 cell=cell) -> None:
            failures.append(CellFailure(number, index, reason, tuple(details), cell.source))

        messages = runs.get(index)
        if messages is not None:
            run = cell_run(messages, check_exception=options["check_exception"])
        elif not cell.source.strip():
            run = CellRun(outputs=[], finished=True)
        else:
            fail("the cell was not run")
            continue
        if run.error is not None:
            fail("Cell execution caused an exception", [
                f"  {run.error['ename']}: {run.error['evalue']}",
                *(f"    {line}" for line in "\n".join(run.error["traceback"]).splitlines()),
            ])
            continue
        if not run.finished:
            fail("the kernel did not finish the cell (no status 'idle' for it)")
            continue
        unrun = cell.get("execution_count") is None
        if unrun and cell.outputs:
            fail("Unrun reference cell has outputs")
            continue
        if options["check"] and not unrun:
            reference = coalesce_streams(copy.deepcopy(cell.outputs))
            differences = compare_outputs(run.outputs, reference, patterns)
            if differences:
                fail("Cell outputs differ", differences)
    return failures


def describe_failures(path: str, failures: Sequence[CellFailure]) -> str:
    """One message for every failing cell, nbval's cell numbers first."""
    head = (
        f"{path}: {len(failures)} code cell(s) of the JupyterLab run do not reproduce the stored "
        "outputs as nbval compares them (sanitised with lectures/sanitize.cfg; "
        "'Cell N' counts code cells only, as nbval does; `make lectures` re-stores them):"
    )
    return "\n\n".join([head, *(failure.describe() for failure in failures)])
