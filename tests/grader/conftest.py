"""A small class graded once through the CLI; the tests read what it wrote."""

from __future__ import annotations

import copy
import csv
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from grader.course import find_repository
from grader.sample import student_version, test_ids, write_invalid_json, write_notebook, write_zip

EX = "ex03_layers"
NB = "ex03_layers"
REPO = find_repository(Path(__file__).parent)


def run_cli(*args: str, env: dict | None = None, timeout: int = 600) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "grader", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=REPO.root,
        env={**os.environ, **(env or {})},
    )


def read_grades(out: Path) -> dict[str, dict[str, str]]:
    with open(out / "grades.csv", newline="") as fh:
        return {row["student"]: row for row in csv.DictReader(fh)}


def _warns(source: str) -> str:
    """Correct code that also warns and writes to stderr on every call."""
    return source.replace(
        "    return out, cache",
        "    import sys, warnings\n"
        "    warnings.warn('affine_forward: a harmless warning', UserWarning)\n"
        "    print('note on stderr', file=sys.stderr)\n"
        "    return out, cache",
    )


def _prints_megabytes(source: str) -> str:
    """Correct code that prints about 2 MB the first time it runs."""
    return source.replace(
        "    return out, cache",
        "    if not globals().get('_printed'):\n"
        "        globals()['_printed'] = True\n"
        "        print('x' * 2_000_000)\n"
        "    return out, cache",
        1,
    )


BUNDLED = (
    "\nprint('handed in:', open('notes.txt').read())\n"
    "with open('notes.txt', 'w') as _f:\n"
    "    _f.write('changed by the student')\n"
    "from IPython.display import HTML, display\n"
    "display(HTML('<script>alert(1)</script>'))\n"
)


def _duplicate(nb, i):
    twin = copy.deepcopy(nb.cells[i])
    twin.id = "pasted-copy"  # JupyterLab gives a pasted cell a new id, keeping its metadata
    nb.cells.insert(i, twin)


def _relabel(nb, i):
    nb.cells[i].metadata["nbgrader"]["grade_id"] = "my_relu_test"


def _strip(nb, i):
    nb.cells[i].metadata = {}


def _raise_points(nb, i):
    nb.cells[i].metadata["nbgrader"]["points"] = 1000


def _empty(nb, i):
    nb.cells[i].source = ""


def _foreign_kernel(nb, i):
    nb.metadata["kernelspec"] = {"name": "no-such-kernel", "display_name": "?", "language": "x"}


# Full solutions whose test cell `test_relu` (or the notebook metadata) was tampered with.
TAMPERING = {
    "deleter": lambda nb, i: nb.cells.pop(i),
    "duplicator": _duplicate,
    "relabeller": _relabel,
    "stripper": _strip,
    "inflator": _raise_points,
    "emptier": _empty,
    "kernelspec": _foreign_kernel,
}


@pytest.fixture(scope="session")
def repo():
    return REPO


@pytest.fixture(scope="session")
def graded_class(tmp_path_factory):
    """Grade one class covering the walking skeleton's cases; return (out, grades, report)."""
    root = tmp_path_factory.mktemp("class")
    subs = root / "submissions"
    path = Path(EX) / f"{NB}.ipynb"
    write_notebook(student_version(REPO, EX, NB), subs / "full" / path)
    write_notebook(student_version(REPO, EX, NB, solved=[]), subs / "blank" / path)
    write_notebook(
        student_version(REPO, EX, NB, solved=["affine_forward", "affine_backward", "relu"]),
        subs / "half" / path,
    )
    write_notebook(
        student_version(REPO, EX, NB, rewrite={"affine_forward": lambda s: s + "\n  oops(\n"}),
        subs / "syntax" / path,
    )
    write_notebook(student_version(REPO, EX, NB, rewrite={"affine_forward": _warns}),
                   subs / "warns" / path)
    write_notebook(student_version(REPO, EX, NB, rewrite={"relu": _prints_megabytes}),
                   subs / "loud" / path)
    for student, tamper in TAMPERING.items():
        nb = student_version(REPO, EX, NB)
        tamper(nb, next(i for i, c in enumerate(nb.cells)
                        if c.metadata.get("nbgrader", {}).get("grade_id") == "test_relu"))
        write_notebook(nb, subs / student / path)
    blank = student_version(REPO, EX, NB, solved=[])
    gutted = student_version(REPO, EX, NB, solved=[],
                             rewrite={t: (lambda _source: "pass") for t in test_ids(blank)})
    write_notebook(gutted, subs / "gutted" / path)
    write_notebook(student_version(REPO, EX, NB, rewrite={"leaky_relu": lambda s: s + BUNDLED}),
                   subs / "bundler" / path)
    (subs / "bundler" / EX / "notes.txt").write_text("hello")
    write_invalid_json(subs / "badjson" / path, student_version(REPO, EX, NB))
    (subs / "nothing").mkdir()
    write_notebook(student_version(REPO, EX, NB), root / "zipped" / "zipper" / path)
    write_zip(root / "zipped" / "zipper", subs / "zipper.zip")
    out = root / "out"
    proc = run_cli("autograde", str(subs), "--out", str(out), "--exercise", EX, "--no-progress")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = json.loads((out / "report.json").read_text())
    return out, read_grades(out), report


@pytest.fixture
def short_tmp() -> Iterator[Path]:
    """An empty folder with a short path, removed afterwards: as TMPDIR of a grading run, the
    kernels' folders go there (pytest's tmp_path is too long for their unix sockets)."""
    folder = Path(tempfile.mkdtemp(prefix="i2dl-t-", dir="/tmp"))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def course_copy(tmp_path):
    """A copy of solutions/ and exercises/ that a test may break (I2DL_COURSE_ROOT points here)."""
    for name in ("solutions", "exercises"):
        shutil.copytree(REPO.root / name, tmp_path / name)
    return tmp_path


@pytest.fixture(scope="session")
def graded_ex01_class(tmp_path_factory):
    """OUT of the ex01 class in tests/grader/ex01_class.py, graded once per test worker.

    ada 100, ben 100 (ada's work renamed), cleo 35, dan 0 (an error message holding a <script>
    tag), eve 0 (an unreadable file). The export and report tests only read it; each writes its
    own files (export-*.csv, report.html) into it.
    """
    from tests.grader.ex01_class import EX, write_class

    root = tmp_path_factory.mktemp("ex01-class")
    write_class(root / "submissions")
    out = root / "out"
    proc = run_cli("autograde", str(root / "submissions"), "--out", str(out), "--exercise", EX,
                   "--no-progress")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return out
