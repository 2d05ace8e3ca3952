"""Small nbgrader-style notebooks for the student commands' tests."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
from nbgrader.utils import compute_checksum


def nbgrader_cell(source: str, grade_id: str, *, test: bool = False, answer: bool = False,
                  points: float | None = None):
    """A code cell with nbgrader metadata as a release has it (checksum by nbgrader itself)."""
    cell = nbformat.v4.new_code_cell(source)
    meta = {"grade": test, "solution": answer, "locked": not answer, "grade_id": grade_id,
            "schema_version": 3}
    if test:
        meta["points"] = points
    cell.metadata["nbgrader"] = meta
    cell.metadata["nbgrader"]["checksum"] = compute_checksum(cell)
    return cell


def tiny_notebook(*extra_cells) -> nbformat.NotebookNode:
    """setup (reads data.txt next to the notebook), an answer, two passing and one failing test."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nb.cells = [
        nbformat.v4.new_markdown_cell("# A tiny exercise"),
        nbgrader_cell("import numpy as np\nfrom i2dl.testing import assert_close\n"
                      "DATA = open('data.txt').read().strip()", "setup"),
        nbgrader_cell("def double(x):\n    return 2 * x", "double", answer=True),
        nbgrader_cell('"""double: values (5 points)"""\n'
                      'assert_close(double(np.arange(3.0)), np.array([0.0, 2.0, 4.0]))',
                      "test_double", test=True, points=5),
        nbgrader_cell('"""the data file next to the notebook (3 points)"""\n'
                      'assert DATA == "hello", f"DATA is {DATA!r}"', "test_data", test=True,
                      points=3),
        nbgrader_cell('"""a check that fails (2 points)"""\n'
                      'assert_close(double(1.0), 3.0, name="double(1)")', "test_wrong",
                      test=True, points=2),
        *extra_cells,
    ]
    return nb


def write_exercise(folder: Path, nb, name: str = "tiny") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "data.txt").write_text("hello\n")
    path = folder / f"{name}.ipynb"
    nbformat.write(nb, path)
    return path


# --- what must never reach a student -------------------------------------------------------------

REPO = Path(__file__).resolve().parents[2]
SECRET_REGIONS = (("BEGIN SOLUTION", "END SOLUTION"), ("BEGIN HIDDEN TESTS", "END HIDDEN TESTS"))
MIN_SECRET_CHARS = 6


def _cell_lines(nb: dict) -> list[str]:
    lines = []
    for cell in nb["cells"]:
        source = cell.get("source", "")
        lines += ("".join(source) if isinstance(source, list) else source).split("\n")
    return lines


def secret_and_public_lines(repo: Path = REPO, regions: tuple = SECRET_REGIONS
                            ) -> tuple[set[str], set[str]]:
    """(secret, public) stripped lines of the course.

    Secret: every line inside a solution or hidden-test region of ``solutions/`` (of the kinds in
    ``regions``; lines of the other kind count as neither). Public: every line outside both kinds
    of region in ``solutions/`` (instructions, visible tests, setup code), every line of the
    lectures' cells and of the ``i2dl`` package. A line is *searched for* in what students get
    when it is secret, has at least ``MIN_SECRET_CHARS`` characters, and is not public as well
    (``)``, ``import torch``, ``return out, cache`` and ``else:`` legitimately appear in public
    text too; the markers themselves are no content).
    """
    secret: set[str] = set()
    public: set[str] = set()
    for path in sorted(repo.glob("solutions/*/*.ipynb")):
        inside: tuple[str, str] | None = None
        for line in _cell_lines(json.loads(path.read_text(encoding="utf-8"))):
            marker = next((pair for pair in SECRET_REGIONS if pair[0] in line), None)
            if inside is None and marker is not None:
                inside = marker
            elif inside is not None and inside[1] in line:
                inside = None
            elif inside is None:
                public.add(line.strip())
            elif inside in regions:
                secret.add(line.strip())
    for path in sorted(repo.glob("lectures/*.ipynb")):
        public.update(line.strip() for line in _cell_lines(json.loads(path.read_text("utf-8"))))
    for path in sorted(repo.glob("i2dl/**/*.py")):
        public.update(line.strip() for line in path.read_text(encoding="utf-8").split("\n"))
    return secret, public


def searched_secret_lines(repo: Path = REPO, regions: tuple = SECRET_REGIONS) -> set[str]:
    """The secret lines a leak search looks for (in the regions given: default both kinds)."""
    secret, public = secret_and_public_lines(repo, regions)
    return {line for line in secret - public if len(line) >= MIN_SECRET_CHARS}
