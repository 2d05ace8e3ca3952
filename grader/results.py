"""Grading results and the files they are written to (``grades.csv``, ``report.json``)."""

from __future__ import annotations

import csv
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

STATUSES = ("ok", "timeout", "memory", "crashed", "invalid", "missing")
GRADES_HEADER = ("student", "exercise", "notebook", "score", "max_score", "status")


@dataclass
class TestResult:
    """One autograded test cell."""

    grade_id: str
    score: float
    max_score: float
    error: str | None = None  # "AssertionError: message" when the test failed
    needs_manual: bool = False  # a written answer an instructor still has to grade


@dataclass
class NotebookResult:
    """One row of ``grades.csv`` plus the detail that goes to ``report.json``."""

    student: str
    exercise: str
    notebook: str
    score: float
    max_score: float
    status: str
    reason: str = ""
    seconds: float = 0.0
    tests: list[TestResult] = field(default_factory=list)
    cell_changes: list[str] = field(default_factory=list)  # what was done to the test cells

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}, got {self.status!r}")


def format_score(value: float) -> str:
    return f"{round(value, 4):g}"


def write_grades_csv(results: list[NotebookResult], path: Path) -> None:
    rows = sorted(results, key=lambda r: (r.student, r.exercise, r.notebook))
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(GRADES_HEADER)
        for r in rows:
            writer.writerow(
                [
                    r.student,
                    r.exercise,
                    r.notebook,
                    format_score(r.score),
                    format_score(r.max_score),
                    r.status,
                ]
            )


def write_report(
    results: list[NotebookResult], warnings: list[str], path: Path, isolation: str = ""
) -> None:
    rows = sorted(results, key=lambda r: (r.student, r.exercise, r.notebook))
    report = {
        "isolation": isolation,
        "warnings": warnings,
        "submissions": [asdict(r) for r in rows],
    }
    path.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")


def format_table(results: list[NotebookResult]) -> str:
    """A plain-text grade table for the terminal."""
    rows = sorted(results, key=lambda r: (r.student, r.exercise, r.notebook))
    header = ("student", "exercise", "notebook", "score", "status", "note")
    body = [
        (
            r.student,
            r.exercise,
            r.notebook,
            f"{format_score(r.score)}/{format_score(r.max_score)}",
            r.status,
            r.reason[:60],
        )
        for r in rows
    ]
    widths = [max(len(str(x)) for x in col) for col in zip(header, *body, strict=True)]
    lines = [
        "  ".join(str(c).ljust(w) for c, w in zip(line, widths, strict=True)).rstrip()
        for line in (header, *body)
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
