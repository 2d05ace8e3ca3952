"""Shared helpers for the per-exercise tests: grade a generated submission through the CLI."""

from __future__ import annotations

import csv
from pathlib import Path

from grader.sample import student_version, write_notebook
from tests.grader.conftest import REPO, run_cli


def grade_versions(tmp_path: Path, exercise: str, notebook: str,
                   versions: dict[str, list[str] | None]) -> dict[str, float]:
    """Grade one student per entry of ``versions`` (answer-cell ids solved; None: all).

    Returns student -> score. Fails the test if the grader itself fails.
    """
    subs = tmp_path / "submissions"
    for student, solved in versions.items():
        nb = student_version(REPO, exercise, notebook, solved)
        write_notebook(nb, subs / student / exercise / f"{notebook}.ipynb")
    out = tmp_path / "out"
    proc = run_cli("autograde", str(subs), "--out", str(out), "--exercise", exercise,
                   "--no-progress")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    with open(out / "grades.csv", newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if r["notebook"] == notebook]
    assert all(r["status"] == "ok" for r in rows), rows
    return {r["student"]: float(r["score"]) for r in rows}
