"""Where bubblewrap is missing the grader still grades, with limits only and a loud warning."""

from __future__ import annotations

import json

import pytest

from grader.sample import student_version, write_notebook
from tests.grader.conftest import EX, NB, REPO, read_grades, run_cli

pytestmark = pytest.mark.grader


def test_without_bubblewrap_grading_still_works_and_warns(tmp_path):
    subs = tmp_path / "subs"
    write_notebook(student_version(REPO, EX, NB), subs / "full" / EX / f"{NB}.ipynb")
    out = tmp_path / "out"
    proc = run_cli("autograde", str(subs), "--out", str(out), "--exercise", EX, "--no-progress",
                   env={"I2DL_BWRAP": ""})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "WARNING: bubblewrap (bwrap) is not installed" in proc.stderr
    report = json.loads((out / "report.json").read_text())
    assert report["isolation"].startswith("WARNING")
    assert report["warnings"] == [report["isolation"]]
    assert read_grades(out)["full"]["score"] == "100"
