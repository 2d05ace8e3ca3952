"""The student's command line: ``i2dl check NOTEBOOK`` and ``i2dl submit EX --student ID``.

``i2dl check`` runs a notebook top to bottom in a fresh kernel of this Python, with the time
budgets the grader uses (:mod:`i2dl.budgets`), and prints a table of its test cells: passed or
failed, the first line of the failure message, and the points at stake. It warns about test
cells that were edited, deleted or duplicated (nbgrader restores them before grading, so a
changed test proves nothing) and about cells that are slow or over budget. The notebook file is
never written: the kernel runs an in-memory copy, in the notebook's folder, so that data files
next to it are found. Exit code: 0 when every visible test passed and no test cell was changed, 1
otherwise, 2 when the notebook could not be checked (no such file, not a notebook, no kernel).

``i2dl submit`` packs the notebooks of one exercise and the files next to them into ``ID.zip``
with the layout the grader accepts (``<exercise>/<notebook>.ipynb`` plus those files). It
refuses links, special files, oversized or too many files, an invalid student ID and notebooks
that are not valid notebook files, each with a message that says what to do. Exit code: 0 when
the zip was written, 2 when it was refused.

Both commands are plain Python (pathlib, zipfile, nbclient) and work on Linux, macOS and Windows.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import re
import stat
import sys
import tempfile
import time
import warnings
import zipfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from i2dl._checksum import is_locked_cell, is_test_cell, nbgrader_checksum
from i2dl.budgets import CELL_SECONDS, NOTEBOOK_SECONDS

# jsonschema (under nbformat, imported when a command needs it) checks the "iri" string format
# with rfc3987_syntax when that is installed, and importing that builds 38 parsers: about a
# second of CPU, a third of what `i2dl check` takes for a small exercise. Notebooks have no
# IRI-formatted fields, so these commands never need the check (the grader does the same).
sys.modules.setdefault("rfc3987_syntax", None)

__all__ = ["main", "check", "submit", "CheckError"]

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2

# A student ID or exercise name: the grader's rule for names that become folder and file names.
SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
# What a hand-in may hold (the grader accepts more: these leave room to spare).
MAX_FILE_BYTES = 20 * 1024**2
MAX_TOTAL_BYTES = 100 * 1024**2
MAX_FILES = 1000
MAX_DEPTH = 6  # folders below the exercise's folder
# Never packed: editor, Python and archiver debris (names starting with "." are left out too).
NOT_PACKED = ("__pycache__", "__MACOSX")
# Written by `make bundle` into the student wheel: the test cells of every released notebook.
RELEASED_TESTS = Path(__file__).with_name("_released_tests.json")
# A cell slower than this share of its budget gets a warning: the grading machine may be slower.
SLOW_SHARE = 0.5


class CheckError(Exception):
    """Input the command cannot work with; the message says what was expected."""


# --- notebooks ----------------------------------------------------------------------------------


def read_notebook(path: Path) -> Any:
    """The notebook at ``path`` (nbformat 4), or CheckError saying why it is not one."""
    import nbformat

    if not path.exists():
        raise CheckError(f"{path}: no such file; give the path of a notebook (.ipynb)")
    if path.is_dir():
        raise CheckError(f"{path} is a folder; give the path of a notebook file (.ipynb) in it")
    try:
        text = path.read_bytes().decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CheckError(f"{path} cannot be read as a text file ({exc})") from None
    try:
        json.loads(text)
    except json.JSONDecodeError as exc:
        raise CheckError(
            f"{path} is not a notebook: it is not valid JSON ({exc.msg}, line {exc.lineno}); "
            "if it was cut off, restore it from its .ipynb_checkpoints copy or the original"
        ) from None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            nb = nbformat.reads(text, as_version=4)
            nbformat.validate(nb)
    except Exception as exc:  # nbformat raises several kinds for JSON that is not a notebook
        first = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ""
        raise CheckError(
            f"{path} is not a valid Jupyter notebook ({type(exc).__name__}: {first}); open it "
            "in JupyterLab and save it again, or restore the original"
        ) from None
    return nb


def _released_tests() -> dict[str, Any]:
    """notebook name -> {"exercise", "version", "cells": [{grade_id, checksum, points, test}]}."""
    try:
        data = json.loads(RELEASED_TESTS.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    version = data.get("version", "?")
    return {name: {**entry, "version": version} for name, entry in data["notebooks"].items()}


def cell_changes(nb: Any, notebook_name: str) -> tuple[list[str], bool]:
    """What happened to the notebook's test and read-only cells since the release.

    Returns (messages, whether deleted cells could be looked for). A cell's nbgrader checksum
    tells whether it was edited; the list of released cells shipped with the student wheel tells
    whether one is missing.
    """
    released = _released_tests().get(notebook_name)
    released_cells = {c["grade_id"]: c for c in released["cells"]} if released else {}
    messages: list[str] = []
    seen: Counter[str] = Counter()
    for cell in nb.cells:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if not is_locked_cell(cell) or "grade_id" not in meta:
            continue
        grade_id = str(meta["grade_id"])
        seen[grade_id] += 1
        kind = "test cell" if is_test_cell(cell) else "read-only cell"
        stored = meta.get("checksum")
        try:
            current = nbgrader_checksum(cell)
        except (KeyError, TypeError, ValueError):  # e.g. its points were removed
            current = None
        if seen[grade_id] > 1:
            continue
        if stored is not None and current != stored:
            messages.append(
                f"{kind} {grade_id} was edited: grading restores the original, so your changes "
                "there do not count (copy the cell's code to a new cell to experiment)"
            )
        elif grade_id in released_cells and stored != released_cells[grade_id]["checksum"]:
            messages.append(
                f"{kind} {grade_id} is not the one released with this i2dl (version "
                f"{released['version']}): is the notebook from another release of the course?"
            )
    for grade_id, count in seen.items():
        if count > 1:
            messages.append(f"{grade_id} appears {count} times: it is graded once, as released")
    for grade_id, cell in released_cells.items():
        if grade_id not in seen:
            kind = "test cell" if cell.get("test") else "read-only cell"
            messages.append(
                f"{kind} {grade_id} is missing (deleted, or its metadata removed): grading "
                "adds the original back and runs it"
            )
    return messages, released is not None


# --- running a notebook -------------------------------------------------------------------------


@dataclass
class CellRun:
    """One code cell as it ran."""

    index: int  # position in the notebook
    label: str  # "In [n]", as JupyterLab shows it after "Restart Kernel and Run All"
    seconds: float
    error: tuple[str, str] | None  # (exception name, message)


@dataclass
class NotebookRun:
    cells: dict[int, CellRun] = field(default_factory=dict)
    stopped_at: int | None = None  # index of the cell where the run stopped
    stop_reason: str = ""
    seconds: float = 0.0


def _quiet_logger() -> logging.Logger:
    logger = logging.getLogger("i2dl.check")
    logger.addHandler(logging.NullHandler())
    logger.propagate = False
    logger.disabled = True  # a timeout is reported in the table, not as a log line
    return logger


def _client_class() -> type:
    """An nbclient NotebookClient whose kernel is ipykernel on this very Python."""
    from jupyter_client.kernelspec import KernelSpec, KernelSpecManager
    from jupyter_client.manager import AsyncKernelManager
    from nbclient import NotebookClient

    class ThisPython(KernelSpecManager):
        """Whatever kernels are installed, the kernel runs the Python that runs i2dl."""

        def get_kernel_spec(self, kernel_name: str, *args: Any, **kwargs: Any) -> KernelSpec:
            return KernelSpec(
                argv=[sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                display_name="Python 3 (i2dl check)",
                language="python",
                resource_dir=str(Path(sys.executable).parent),
            )

    class Client(NotebookClient):
        def create_kernel_manager(self) -> AsyncKernelManager:
            # The name "python3" keeps nbclient's in-memory IPython history for the kernel.
            self.km = AsyncKernelManager(
                kernel_name="python3", kernel_spec_manager=ThisPython(), config=self.config
            )
            return self.km

    return Client


def _first_error(cell: Any) -> tuple[str, str] | None:
    for output in cell.get("outputs", []):
        if output.get("output_type") == "error":
            return str(output.get("ename", "Error")), str(output.get("evalue", ""))
    return None


def run_notebook(
    nb: Any,
    folder: Path,
    cell_seconds: int = CELL_SECONDS,
    notebook_seconds: int = NOTEBOOK_SECONDS,
    progress: Any = None,
) -> NotebookRun:
    """Run the code cells of ``nb`` in order in a fresh kernel whose working folder is ``folder``.

    Like the grader: an error does not stop the run, but the first cell over its budget (or over
    what is left of the notebook's) or a kernel that dies does; the cells after it do not run.
    """
    from nbclient.exceptions import CellTimeoutError, DeadKernelError

    client = _client_class()(
        nb,
        timeout=cell_seconds,
        allow_errors=True,
        interrupt_on_timeout=False,
        shutdown_kernel="immediate",  # a kernel stuck in a cell is killed, not waited for
        startup_timeout=120,
        record_timing=False,
        log=_quiet_logger(),
        resources={"metadata": {"path": str(folder)}},
    )
    run = NotebookRun()
    code_cells = [i for i, cell in enumerate(nb.cells) if cell.cell_type == "code"]
    # The kernel's own messages (e.g. about its transport) would clutter the terminal.
    with tempfile.TemporaryFile() as kernel_log:
        try:
            setup = client.setup_kernel(stdout=kernel_log, stderr=kernel_log)
            setup.__enter__()
        except Exception as exc:
            kernel_log.seek(0)
            said = kernel_log.read().decode("utf-8", "replace").strip().splitlines()[-5:]
            raise CheckError(
                f"could not start a Python kernel ({type(exc).__name__}: {exc}); is ipykernel "
                "installed in this environment?" + "".join(f"\n  {line}" for line in said)
            ) from None
        start = time.monotonic()
        try:
            for count, index in enumerate(code_cells, 1):
                cell = nb.cells[index]
                if progress is not None:
                    progress(count, len(code_cells))
                left = notebook_seconds - (time.monotonic() - start)
                if left <= 0:
                    run.stopped_at = index
                    run.stop_reason = f"the notebook used up its {notebook_seconds} s"
                    break
                budget = max(1, int(min(cell_seconds, left)))
                over = (f"it ran longer than {budget} s" if budget == cell_seconds else
                        f"it ran longer than the {budget} s left of the notebook's "
                        f"{notebook_seconds} s")
                client.timeout = budget
                began = time.monotonic()
                stop = ""
                try:
                    client.execute_cell(cell, index)
                except CellTimeoutError:
                    stop = over
                except DeadKernelError:
                    stop = "the Python kernel died (out of memory, or a crash in a library)"
                number = cell.get("execution_count")
                label = f"In [{number}]" if number else f"cell {index + 1}"
                run.cells[index] = CellRun(index, label, time.monotonic() - began,
                                           _first_error(cell))
                if stop:
                    run.stopped_at, run.stop_reason = index, stop
                    break
        finally:
            run.seconds = time.monotonic() - start
            with contextlib.suppress(Exception):
                setup.__exit__(None, None, None)
    return run


# --- i2dl check ---------------------------------------------------------------------------------


@dataclass
class Outcome:
    grade_id: str
    points: float
    result: str  # "passed", "FAILED" or "not run"
    message: str


def _points(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return 0.0


def _number(value: float) -> str:
    return f"{value:g}"


def _first_line(text: str, width: int | None = None) -> str:
    line = next((part.strip() for part in text.splitlines() if part.strip()), "")
    return line if width is None or len(line) <= width else line[: width - 3] + "..."


def outcomes_of(nb: Any, run: NotebookRun) -> list[Outcome]:
    """The result of every test cell of ``nb`` after ``run``."""
    outcomes = []
    for index, cell in enumerate(nb.cells):
        if not is_test_cell(cell):
            continue
        meta = cell.metadata["nbgrader"]
        grade_id, points = str(meta.get("grade_id", f"cell {index + 1}")), _points(
            meta.get("points"))
        ran = run.cells.get(index)
        if ran is not None and run.stopped_at == index:
            outcome = Outcome(grade_id, points, "FAILED", f"stopped: {run.stop_reason}")
        elif ran is None:
            where = run.cells.get(run.stopped_at) if run.stopped_at is not None else None
            at = f" at {where.label}" if where else ""
            outcome = Outcome(grade_id, points, "not run",
                                  f"the run stopped{at}: {run.stop_reason}")
        elif ran.error is not None:
            name, message = ran.error
            text = f"{name}: {_first_line(message)}" if message.strip() else name
            outcome = Outcome(grade_id, points, "FAILED", text)
        else:
            outcome = Outcome(grade_id, points, "passed", "")
        outcomes.append(outcome)
    return outcomes


def _table(outcomes: list[Outcome]) -> list[str]:
    header = ("test", "result", "points", "message")
    rows = [(o.grade_id, o.result, _number(o.points), o.message) for o in outcomes]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(3)]

    def line(row: tuple[str, ...]) -> str:
        cells = [row[0].ljust(widths[0]), row[1].ljust(widths[1]), row[2].rjust(widths[2]), row[3]]
        return "  ".join(cells).rstrip()

    return [line(header), line(tuple("-" * w for w in (*widths, len(header[3])))),
            *(line(r) for r in rows)]


def _cell_name(nb: Any, index: int, run: NotebookRun) -> str:
    cell = nb.cells[index]
    grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
    label = run.cells[index].label if index in run.cells else f"cell {index + 1}"
    if grade_id and is_test_cell(cell):
        return f"{label} ({grade_id})"
    first = _first_line(cell.source, 40)
    return f"{label} ({first})" if first else label


def check(path: Path, cell_seconds: int = CELL_SECONDS,
          notebook_seconds: int = NOTEBOOK_SECONDS) -> int:
    """``i2dl check``: run the notebook, print its tests' table and warnings; the exit code."""
    nb = read_notebook(path)
    folder = path.resolve().parent
    changes, knows_released = cell_changes(nb, path.stem)
    say(f"Checking {path} in a fresh kernel, with the grading time budgets "
        f"({cell_seconds} s per cell, {notebook_seconds} s per notebook).")

    def progress(count: int, total: int) -> None:
        if sys.stderr.isatty():
            sys.stderr.write(f"\r  running code cell {count} of {total} ")
            sys.stderr.flush()

    run = run_notebook(nb, folder, cell_seconds, notebook_seconds, progress)
    if sys.stderr.isatty():
        sys.stderr.write("\r" + " " * 40 + "\r")
    outcomes = outcomes_of(nb, run)
    say(f"Ran {len(run.cells)} code cells in {run.seconds:.1f} s.")
    say("")
    if outcomes:
        for line in _table(outcomes):
            say(line)
        passed = [o for o in outcomes if o.result == "passed"]
        say(f"total: {len(passed)} of {len(outcomes)} tests passed their visible checks "
            f"(worth {_number(sum(o.points for o in passed))} of "
            f"{_number(sum(o.points for o in outcomes))} points)")
        say("Hidden tests run only when the notebook is graded: code that passes the visible "
            "checks can still fail them.")
    else:
        say("This notebook has no test cells.")

    warnings_: list[str] = list(changes)
    if run.stopped_at is not None:
        warnings_.append(
            f"{_cell_name(nb, run.stopped_at, run)} stopped the run: {run.stop_reason}; grading "
            "stops there too, and every test cell after it scores 0"
        )
    for index, ran in run.cells.items():
        if index != run.stopped_at and ran.seconds > SLOW_SHARE * cell_seconds:
            warnings_.append(
                f"{_cell_name(nb, index, run)} took {ran.seconds:.0f} s of its {cell_seconds} s "
                "budget: on a slower or busier grading machine it could run over"
            )
    if run.stopped_at is None and run.seconds > SLOW_SHARE * notebook_seconds:
        warnings_.append(f"the whole notebook took {run.seconds:.0f} s of its {notebook_seconds} "
                         "s budget: on a slower or busier grading machine it could run over")
    if warnings_ or (outcomes and not knows_released):
        say("")
    for warning in warnings_:
        say(f"warning: {warning}")
    if outcomes and not knows_released:
        say(f"note: deleted test cells cannot be detected: this installation of i2dl has no list "
            f"of the test cells released in {path.name}")

    others = [(i, r) for i, r in run.cells.items() if r.error and not is_test_cell(nb.cells[i])]
    if others:
        say("")
        say("Errors outside test cells (they cost no points themselves, but later cells may "
            "need what they should have defined):")
        for index, ran in others[:8]:
            name, message = ran.error or ("", "")
            text = f"{name}: {_first_line(message)}" if message.strip() else name
            say(f"  {_cell_name(nb, index, run)}: {text}")
        if len(others) > 8:
            say(f"  ... and {len(others) - 8} more")

    failed = any(o.result != "passed" for o in outcomes)
    return EXIT_FAILED if failed or changes or run.stopped_at is not None else EXIT_OK


# --- i2dl submit --------------------------------------------------------------------------------


def _size(n: int) -> str:
    if n < 1024:
        return f"{n} bytes"
    return f"{n / 1024:.1f} KiB" if n < 1024**2 else f"{n / 1024**2:.1f} MiB"


def _find_exercise(exercise: str, source: Path | None) -> Path:
    if source is not None:
        if not source.is_dir():
            raise CheckError(f"--from {source}: no such folder")
        return source / exercise if (source / exercise).is_dir() else source
    here = Path.cwd()
    for folder in (here / exercise, here / "exercises" / exercise):
        if folder.is_dir():
            return folder
    if here.name == exercise:
        return here
    raise CheckError(
        f"no folder for exercise {exercise!r}: looked for ./{exercise} and "
        f"./exercises/{exercise}; run this in the folder that holds your exercises, or give "
        "the exercise's folder with --from FOLDER"
    )


def _is_link(path: Path, info: os.stat_result) -> bool:
    if stat.S_ISLNK(info.st_mode):
        return True
    # Windows: junctions and other reparse points are links too.
    reparse = getattr(stat, "FILE_ATTRIBUTE_REPARSE_POINT", 0)
    return bool(reparse and getattr(info, "st_file_attributes", 0) & reparse)


def collect_files(folder: Path, skip: set[Path]) -> tuple[list[Path], list[str]]:
    """Regular files under ``folder`` to pack, and the names left out; CheckError for links.

    ``skip``: resolved paths not to pack (the zip being written, when it is inside ``folder``).
    """
    files: list[Path] = []
    left_out: list[str] = []
    total = 0
    pending = [folder]
    while pending:
        here = pending.pop()
        for entry in sorted(here.iterdir(), key=lambda p: p.name):
            relative = entry.relative_to(folder).as_posix()
            info = entry.lstat()
            if entry.name.startswith(".") or entry.name in NOT_PACKED:
                left_out.append(relative + ("/" if stat.S_ISDIR(info.st_mode) else ""))
                continue
            if _is_link(entry, info):
                raise CheckError(
                    f"{relative} is a link (shortcut to another file or folder); a hand-in may "
                    "hold regular files only: replace it by a copy of what it points to, or "
                    "move it out of the folder"
                )
            if stat.S_ISDIR(info.st_mode):
                if len(entry.relative_to(folder).parts) > MAX_DEPTH:
                    raise CheckError(
                        f"{relative} is more than {MAX_DEPTH} folders deep; a hand-in may nest "
                        f"folders at most {MAX_DEPTH} deep: move it out of the exercise's folder"
                    )
                pending.append(entry)
                continue
            if entry.resolve() in skip:
                continue
            if not stat.S_ISREG(info.st_mode):
                raise CheckError(f"{relative} is not a regular file; move it out of the folder")
            if info.st_size > MAX_FILE_BYTES:
                raise CheckError(
                    f"{relative} is {_size(info.st_size)}; a hand-in file may be at most "
                    f"{_size(MAX_FILE_BYTES)}: leave large data out (the grader has the "
                    "course's data) or save smaller results"
                )
            total += info.st_size
            files.append(entry)
            if len(files) > MAX_FILES:
                raise CheckError(
                    f"the folder holds more than {MAX_FILES} files; a hand-in may hold at most "
                    f"{MAX_FILES}: move generated files (downloads, checkpoints, images) out of it"
                )
            if total > MAX_TOTAL_BYTES:
                raise CheckError(
                    f"the files add up to more than {_size(MAX_TOTAL_BYTES)}, the most a "
                    "hand-in may hold: move large data or generated files out of the folder"
                )
    return sorted(files), sorted(left_out)


def _zip_time(path: Path) -> tuple[int, int, int, int, int, int]:
    stamp = max(path.stat().st_mtime, 315532800)  # zip dates start in 1980
    return time.localtime(stamp)[:6]


def submit(exercise: str, student: str, source: Path | None = None,
           out: Path | None = None) -> int:
    """``i2dl submit``: write ``<out>/<student>.zip``; the exit code."""
    if not SAFE_NAME.match(student):
        raise CheckError(
            f"--student {student!r} is not a valid student ID: use 1 to 64 letters, digits, "
            "'_', '-' or '.', starting with a letter or a digit (e.g. your university login)"
        )
    if not SAFE_NAME.match(exercise):
        raise CheckError(
            f"{exercise!r} is not an exercise name: give the name of the exercise's folder, "
            "e.g. ex01_linear_regression"
        )
    folder = _find_exercise(exercise, source)
    out_dir = Path.cwd() if out is None else out
    if not out_dir.is_dir():
        raise CheckError(f"--out {out_dir}: no such folder")
    target = out_dir / f"{student}.zip"
    partial = out_dir / f".{student}.zip.part"
    skip = {target.resolve(), partial.resolve()}
    files, left_out = collect_files(folder, skip)
    notebooks = [f for f in files if f.suffix == ".ipynb" and f.parent == folder]
    if not notebooks:
        raise CheckError(f"{folder} holds no notebook (.ipynb): is it the exercise's folder?")
    problems: list[str] = []
    for notebook in notebooks:
        nb = read_notebook(notebook)
        changes, _ = cell_changes(nb, notebook.stem)
        problems += [f"{notebook.name}: {change}" for change in changes]
    released = {name for name, entry in _released_tests().items()
                if entry.get("exercise") == exercise}
    for name in sorted(released - {nb.stem for nb in notebooks}):
        problems.append(f"{name}.ipynb is not in {folder}: the grader looks for it by this name")

    try:
        with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as archive:
            for file in files:
                info = zipfile.ZipInfo(f"{exercise}/{file.relative_to(folder).as_posix()}",
                                       date_time=_zip_time(file))
                info.compress_type = zipfile.ZIP_DEFLATED
                info.external_attr = (stat.S_IFREG | 0o644) << 16
                archive.writestr(info, file.read_bytes())
        os.replace(partial, target)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise CheckError(f"could not write {target}: {exc}") from None

    say(f"Wrote {target} ({len(files)} files, {_size(target.stat().st_size)}):")
    for file in files:
        say(f"  {exercise}/{file.relative_to(folder).as_posix()}")
    if left_out:
        say("Left out (hidden files, editor backups and caches): " + ", ".join(left_out))
    for problem in problems:
        say(f"warning: {problem}")
    say(f"Hand in {target.name} as your course asks (e.g. upload it).")
    return EXIT_OK


# --- the command line ---------------------------------------------------------------------------


def say(text: str) -> None:
    print(text, flush=True)


def _seconds(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a whole number of seconds, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected at least 1 second, got {value}")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="i2dl", description="The i2dl course's student commands: check a notebook, hand "
        "in an exercise.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    check_ = commands.add_parser(
        "check", help="run a notebook in a fresh kernel and list its tests",
        description="Run NOTEBOOK top to bottom in a fresh kernel, with the time budgets of "
        "grading, and print a table of its visible tests. Exit code 0 when all passed, 1 "
        "otherwise, 2 when the notebook could not be checked.")
    check_.add_argument("notebook", type=Path, help="the notebook (.ipynb) to check")
    check_.add_argument("--cell-timeout", type=_seconds, default=CELL_SECONDS, metavar="S",
                        help=f"seconds one cell may run (default: {CELL_SECONDS}, as in grading)")
    check_.add_argument("--notebook-timeout", type=_seconds, default=NOTEBOOK_SECONDS,
                        metavar="S", help="seconds the whole notebook may run (default: "
                        f"{NOTEBOOK_SECONDS}, as in grading)")
    submit_ = commands.add_parser(
        "submit", help="pack an exercise's notebooks into ID.zip to hand in",
        description="Pack the notebooks of exercise EXERCISE and the files next to them into "
        "ID.zip, in the layout the grader reads. The exercise's folder is ./EXERCISE, "
        "./exercises/EXERCISE, the current folder when it has that name, or --from FOLDER.")
    submit_.add_argument("exercise", metavar="EXERCISE", help="e.g. ex01_linear_regression")
    submit_.add_argument("--student", required=True, metavar="ID", help="your student ID")
    submit_.add_argument("--from", dest="source", type=Path, metavar="FOLDER",
                         help="the exercise's folder (or a folder holding it)")
    submit_.add_argument("--out", type=Path, metavar="FOLDER",
                         help="where to write ID.zip (default: the current folder)")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``i2dl`` console script; returns the exit code."""
    for stream in (sys.stdout, sys.stderr):  # e.g. a Windows console that cannot show every
        with contextlib.suppress(AttributeError, ValueError):  # character of a message
            stream.reconfigure(errors="replace")  # type: ignore[union-attr]
    args = _parser().parse_args(argv)
    try:
        if args.command == "check":
            return check(args.notebook, args.cell_timeout, args.notebook_timeout)
        return submit(args.exercise, args.student, args.source, args.out)
    except CheckError as error:
        print(f"i2dl {args.command}: error: {error}", file=sys.stderr, flush=True)
        return EXIT_BAD_INPUT
