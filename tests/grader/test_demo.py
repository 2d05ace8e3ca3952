"""The README's main command: `i2dl-grader demo` grades the sample class as documented."""

from __future__ import annotations

import pytest

from tests.grader.conftest import read_grades, run_cli

pytestmark = pytest.mark.grader

EXPECTED = {
    "alice": ("100", "ok"),  # complete
    "bob": ("0", "ok"),  # blank
    "carol": ("45", "ok"),  # affine and ReLU only
    "dave": ("90", "ok"),  # unstable sigmoid
    "mallory": ("90", "ok"),  # the same, with the comparisons patched: not a point more
    "erin": ("45", "ok"),  # imports the reference affine layer
    "frank": ("0", "ok"),  # test cells replaced by `pass`
    "grace": ("100", "ok"),  # a zip
    "heidi": ("45", "ok"),  # syntax error
    "ivan": ("0", "invalid"),  # truncated file
}


def test_demo_grades_the_sample_class(tmp_path):
    proc = run_cli("--course-dir", str(tmp_path), "demo", "--no-progress")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    grades = read_grades(tmp_path / "demo" / "graded")
    assert {s: (row["score"], row["status"]) for s, row in grades.items()} == EXPECTED
    table = proc.stdout
    assert "mallory  ex03_layers  ex03_layers  90/100   ok" in table
    assert f"grades:   {tmp_path / 'demo' / 'graded' / 'grades.csv'}" in table
