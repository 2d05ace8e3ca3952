"""A zip made by ``i2dl submit`` grades exactly like the same work handed in as a folder.

One ``i2dl-grader autograde`` run grades two students with the same partly solved ex01 (and a
file next to the notebook): one handed in as nbgrader's folder layout, one as ``i2dl submit``'s
zip. The feedback of both shows the pass line of every passed test cell, and no hidden test.
"""

from __future__ import annotations

import html
import json
import re

import pytest

from grader.sample import student_version, write_notebook
from i2dl import cli
from i2dl.testing import pass_line
from tests.grader.conftest import REPO, read_grades, run_cli
from tests.student.conftest import SECRET_REGIONS, searched_secret_lines

pytestmark = pytest.mark.student

EX = NB = "ex01_linear_regression"
SOLVED = ["add_bias_column", "predict", "mse", "mse_gradient"]


def test_a_zip_from_submit_scores_like_the_folder(tmp_path, monkeypatch, capsys):
    nb = student_version(REPO, EX, NB, SOLVED)
    subs = tmp_path / "submissions"
    folder = subs / "by_folder" / EX
    write_notebook(nb, folder / f"{NB}.ipynb")
    (folder / "notes.txt").write_text("my notes\n")
    work = tmp_path / "student" / "exercises" / EX
    write_notebook(nb, work / f"{NB}.ipynb")
    (work / "notes.txt").write_text("my notes\n")
    monkeypatch.chdir(tmp_path / "student")

    assert cli.main(["submit", EX, "--student", "by_zip", "--out", str(subs)]) == 0
    capsys.readouterr()
    out = tmp_path / "out"
    proc = run_cli("autograde", str(subs), "--out", str(out), "--exercise", EX, "--no-progress")

    assert proc.returncode == 0, proc.stdout + proc.stderr
    grades = read_grades(out)
    assert {s: (g["status"], g["max_score"]) for s, g in grades.items()} == {
        "by_folder": ("ok", "100"), "by_zip": ("ok", "100")}
    score = float(grades["by_folder"]["score"])
    assert 0 < score < 100  # partial work: both ways of handing in must agree on every test
    assert float(grades["by_zip"]["score"]) == score
    report = json.loads((out / "report.json").read_text())
    tests = {row["student"]: [(t["grade_id"], t["score"]) for t in row["tests"]]
             for row in report["submissions"]}
    assert tests["by_zip"] == tests["by_folder"]

    # The grader's kernel printed the pass line of the visible part of each passed test cell,
    # and nothing of the hidden part.
    source = {c.metadata.nbgrader["grade_id"]: c.source for c in nb.cells
              if c.metadata.get("nbgrader", {}).get("grade")}
    # (solution lines are the student's own answers here: only hidden tests must not show)
    secrets = searched_secret_lines(regions=(SECRET_REGIONS[1],))
    for student in ("by_folder", "by_zip"):
        feedback = html.unescape((out / "feedback" / student / EX / f"{NB}.html").read_text())
        for grade_id, points in tests[student]:
            line = pass_line(source[grade_id])
            assert line is not None and (line in feedback) == (points > 0), grade_id
            assert feedback.count(line) <= 1
        lines = {line.strip() for line in re.split(r"<[^>]*>|\n", feedback)}
        assert secrets & lines == set()
        assert [s for s in secrets if len(s) >= 30 and s in feedback] == []
