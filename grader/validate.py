"""``i2dl-grader validate``: every solution scores full marks, every release scores zero.

Both versions go through the real autograding path (the same code as ``autograde``), twice, and
any difference between the two runs (a flaky hidden test) is a failure too.

Answers graded by hand (a markdown or code answer cell that carries points, such as a written
explanation) score nothing when autograded, neither in the solution nor in the release: "full
marks" for a solution means every autograded test passes, and the table says which points are
left to the instructor.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import nbformat

from grader.autograde import ClassGrader, GradingOptions
from grader.course import Repository
from grader.feedback import graded_by_hand
from grader.results import NotebookResult, format_score
from grader.scheduler import run_class
from grader.submissions import discover

SOLUTION, RELEASE = "solution", "release"


@dataclass
class Check:
    exercise: str
    notebook: str
    version: str
    scores: tuple[str, str]
    expected: str
    problem: str = ""
    by_hand: str = ""  # answers the instructor grades, e.g. "explain_downsampling (5)"


def _stage(repo: Repository, exercise: str, root: Path) -> None:
    for version, folder in ((SOLUTION, repo.solutions), (RELEASE, repo.exercises)):
        target = root / version / exercise
        target.mkdir(parents=True)
        for nb in sorted((folder / exercise).glob("*.ipynb")):
            shutil.copyfile(nb, target / nb.name)


def _run_once(
    repo: Repository, exercise: str, submissions: Path, out: Path, options: GradingOptions
) -> dict[tuple[str, str], NotebookResult]:
    grader = ClassGrader(repo, out, [exercise], options)
    grader.out.mkdir(parents=True, exist_ok=True)
    students = discover(submissions, [exercise], grader.out / "unpacked")
    return {(r.student, r.notebook): r for r in run_class(grader, students)}


def _describe(r: NotebookResult) -> str:
    tests = ",".join(f"{t.grade_id}={format_score(t.score)}" for t in r.tests)
    return f"{format_score(r.score)}/{format_score(r.max_score)} {r.status} [{tests}]"


def validate(repo: Repository, exercises: list[str], options: GradingOptions) -> list[Check]:
    checks: list[Check] = []
    for exercise in exercises:
        with tempfile.TemporaryDirectory(prefix="i2dl-validate-") as tmp:
            root = Path(tmp)
            _stage(repo, exercise, root / "submissions")
            runs = [
                _run_once(repo, exercise, root / "submissions", root / f"run{i}", options)
                for i in (1, 2)
            ]
            for (version, notebook), first in sorted(runs[0].items()):
                second = runs[1][(version, notebook)]
                source = repo.solutions / exercise / f"{notebook}.ipynb"
                manual = graded_by_hand(nbformat.read(source, as_version=4))
                autograded = first.max_score - sum(manual.values())
                expected = format_score(autograded) if version == SOLUTION else "0"
                check = Check(
                    exercise,
                    notebook,
                    version,
                    (format_score(first.score), format_score(second.score)),
                    expected,
                    by_hand=", ".join(f"{g} ({format_score(p)})" for g, p in manual.items()),
                )
                failed = [
                    t for t in first.tests if t.score < t.max_score and t.grade_id not in manual
                ]
                if first.status != "ok":
                    check.problem = f"status {first.status}: {first.reason}"
                elif version == SOLUTION and failed:
                    check.problem = "solution fails " + "; ".join(
                        f"{t.grade_id} ({t.error})" for t in failed
                    )
                elif version == RELEASE and first.score != 0:
                    passed = [t.grade_id for t in first.tests if t.score > 0]
                    check.problem = "release earns points in " + ", ".join(passed)
                elif _describe(first) != _describe(second):
                    check.problem = f"runs differ: {_describe(first)} vs {_describe(second)}"
                checks.append(check)
    return checks


def format_checks(checks: list[Check]) -> str:
    header = ("exercise", "notebook", "version", "run 1", "run 2", "expected", "result")
    rows = [
        (
            c.exercise,
            c.notebook,
            c.version,
            c.scores[0],
            c.scores[1],
            c.expected,
            ("ok" if not c.problem else "FAIL: " + c.problem)
            + (f"; graded by hand: {c.by_hand}" if c.by_hand else ""),
        )
        for c in checks
    ]
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows, strict=True)]
    widths[-1] = len(header[-1])
    lines = [
        "  ".join(str(c).ljust(w) for c, w in zip(line, widths, strict=True)).rstrip()
        for line in (header, *rows)
    ]
    return "\n".join(lines)
