"""Build student notebooks from an exercise: solved, blank, partly solved, or broken on purpose.

Used by ``i2dl-grader demo``, ``validate``, the tests and the benchmarks. A student version starts
from the released notebook and, for each answer cell chosen, puts back the source's solution code
(markers removed), exactly what a student who solved that part would hand in.
"""

from __future__ import annotations

import copy
import json
import zipfile
from collections.abc import Callable, Iterable
from pathlib import Path

import nbformat

from grader.course import Repository
from grader.integrity import is_test_cell
from grader.release import SOLUTION_MARKERS


def strip_solution_markers(source: str) -> str:
    return "\n".join(
        line for line in source.split("\n") if not any(m in line for m in SOLUTION_MARKERS)
    )


def test_ids(nb) -> list[str]:
    """grade_ids of the autograded test cells, in notebook order."""
    return [c.metadata["nbgrader"]["grade_id"] for c in nb.cells if is_test_cell(c)]


def student_version(
    repo: Repository,
    exercise: str,
    notebook: str,
    solved: Iterable[str] | None = None,
    rewrite: dict[str, Callable[[str], str]] | None = None,
):
    """A notebook as a student would hand it in.

    Parameters
    ----------
    solved : answer-cell grade_ids to fill with the solution (None: all of them).
    rewrite : grade_id -> function applied to that cell's final source (to break it on purpose).
    """
    released = nbformat.read(repo.exercises / exercise / f"{notebook}.ipynb", as_version=4)
    source = nbformat.read(repo.solutions / exercise / f"{notebook}.ipynb", as_version=4)
    solutions = {
        c.metadata["nbgrader"]["grade_id"]: strip_solution_markers(c.source)
        for c in source.cells
        if c.metadata.get("nbgrader", {}).get("solution")
    }
    chosen = set(solutions) if solved is None else set(solved)
    unknown = chosen - set(solutions)
    if unknown:
        raise ValueError(f"{exercise}/{notebook} has no answer cells {sorted(unknown)}")
    nb = copy.deepcopy(released)
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in chosen:
            cell.source = solutions[grade_id]
        if rewrite and grade_id in rewrite:
            cell.source = rewrite[grade_id](cell.source)
    return nb


def write_notebook(nb, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path


def write_zip(student_dir: Path, zip_path: Path) -> Path:
    """Pack ``student_dir`` (holding <exercise>/<notebook>.ipynb) as ``zip_path``."""
    with zipfile.ZipFile(zip_path, "w", zipfile.ZIP_DEFLATED) as zf:
        for file in sorted(student_dir.rglob("*")):
            if file.is_file():
                zf.write(file, file.relative_to(student_dir).as_posix())
    return zip_path


def write_invalid_json(path: Path, nb) -> Path:
    """A notebook file cut off half-way, as a crashed editor would leave it."""
    text = json.dumps(nb)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text[: len(text) // 2], encoding="utf-8")
    return path
