"""Our autograder against stock nbgrader on the same generated class.

Sixty ex03_layers hand-ins (full, blank and several kinds of partial work) are graded twice in
this run: by stock ``nbgrader autograde`` (sequential, its own command line, TCP kernels, no
sandbox) and by ``i2dl-grader autograde --workers 2`` (sandboxed). Prints both wall times, the
ratio, the time per hand-in, and whether every score agrees.

    python benchmarks/bench_grader.py [N]
"""

from __future__ import annotations

import csv
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from nbgrader.api import Gradebook

from grader.course import find_repository
from grader.sample import student_version, write_notebook

EX = NB = "ex03_layers"
# Answer cells solved by each kind of hand-in; the class cycles through them.
KINDS: list[list[str] | None] = [
    None,
    [],
    ["affine_forward", "affine_backward"],
    ["affine_forward", "affine_backward", "relu", "affine_relu"],
    ["relu", "sigmoid", "tanh", "leaky_relu"],
    ["affine_forward", "relu", "sigmoid"],
]


def build_class(root: Path, n: int) -> list[str]:
    repo = find_repository()
    students = [f"s{i:03d}" for i in range(n)]
    for i, student in enumerate(students):
        nb = student_version(repo, EX, NB, KINDS[i % len(KINDS)])
        write_notebook(nb, root / "ours" / student / EX / f"{NB}.ipynb")
        write_notebook(nb, root / "stock" / "submitted" / student / EX / f"{NB}.ipynb")
    source = root / "stock" / "source" / EX
    source.mkdir(parents=True)
    shutil.copy(repo.solutions / EX / f"{NB}.ipynb", source)
    (root / "stock" / "nbgrader_config.py").write_text(
        "c = get_config()\nc.CourseDirectory.course_id = 'bench'\n"
    )
    return students


def _nbgrader(root: Path, *args: str) -> None:
    cmd = [str(Path(sys.executable).parent / "nbgrader"), *args]
    subprocess.run(cmd, cwd=root, check=True, capture_output=True, text=True)


def _timed(work: Callable[[], object]) -> float:
    start = time.perf_counter()
    work()
    return time.perf_counter() - start


def run(report: Callable[[str], object] = print, n: int = 60, workers: int = 2) -> float:
    with tempfile.TemporaryDirectory(prefix="i2dl-bench-grader-") as tmp:
        root = Path(tmp)
        students = build_class(root, n)
        stock = root / "stock"
        _nbgrader(stock, "generate_assignment", EX, "--create", "--force")
        t_stock = _timed(lambda: _nbgrader(stock, "autograde", EX))
        ours_cmd = [sys.executable, "-m", "grader", "autograde", str(root / "ours"),
                    "--out", str(root / "out"), "--exercise", EX, "--workers", str(workers),
                    "--no-progress"]
        t_ours = _timed(lambda: subprocess.run(ours_cmd, check=True, capture_output=True))
        with Gradebook(f"sqlite:///{stock / 'gradebook.db'}", "bench") as gb:
            stock_scores = {s: gb.find_submission(EX, s).score for s in students}
        with open(root / "out" / "grades.csv", newline="") as fh:
            our_scores = {row["student"]: float(row["score"]) for row in csv.DictReader(fh)}
    differing = sorted(s for s in students if stock_scores[s] != our_scores.get(s))
    ratio = t_stock / t_ours
    report(f"grader: {n} ex03_layers hand-ins; stock nbgrader autograde (sequential) "
           f"{t_stock:.1f} s = {t_stock / n:.2f} s each")
    report(f"grader: i2dl-grader autograde --workers {workers} (sandboxed) {t_ours:.1f} s = "
           f"{t_ours / n:.2f} s each; speed-up {ratio:.2f}x (goal >= 2.5x)")
    report("grader: scores agree for all hand-ins" if not differing else
           f"grader: scores DIFFER for {len(differing)} hand-ins: {', '.join(differing[:10])}")
    return ratio


if __name__ == "__main__":
    run(n=int(sys.argv[1]) if len(sys.argv) > 1 else 60)
