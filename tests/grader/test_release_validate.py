"""Release sync, leak checks and validate."""

from __future__ import annotations

import nbformat
import pytest

from grader.release import find_leaks
from tests.grader.conftest import EX, NB, run_cli

pytestmark = pytest.mark.release


def test_exercises_are_in_sync_with_solutions():
    proc = run_cli("release", "--check")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "up to date" in proc.stdout


def test_release_check_notices_a_stale_release(course_copy):
    nb_path = course_copy / "solutions" / EX / f"{NB}.ipynb"
    nb = nbformat.read(nb_path, as_version=4)
    nb.cells[0].source += "\n\nOne more sentence for the students."
    nbformat.write(nb, nb_path)
    proc = run_cli("release", "--check", env={"I2DL_COURSE_ROOT": str(course_copy)})
    assert proc.returncode == 1
    assert EX in proc.stdout


@pytest.mark.parametrize("exercise_dir", ["exercises"])
def test_no_solution_code_or_hidden_tests_in_exercises(repo, exercise_dir):
    released = sorted((repo.root / exercise_dir).rglob("*.ipynb"))
    assert released, "no released notebooks found"
    for nb_path in released:
        text = nb_path.read_text()
        for marker in ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "call_own"):
            assert marker not in text, f"{marker!r} in {nb_path}"
        source = repo.solutions / nb_path.parent.name / nb_path.name
        assert find_leaks(source, nb_path) == []
        nb = nbformat.read(nb_path, as_version=4)
        assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code")


def test_find_leaks_reports_a_solution_line(tmp_path, repo):
    source = repo.solutions / EX / f"{NB}.ipynb"
    nb = nbformat.read(repo.exercises / EX / f"{NB}.ipynb", as_version=4)
    answer = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("solution"))
    answer.source += "\n    x_flat = x.reshape(x.shape[0], -1)"
    leaky = tmp_path / f"{NB}.ipynb"
    nbformat.write(nb, leaky)
    problems = find_leaks(source, leaky)
    assert any("x_flat = x.reshape(x.shape[0], -1)" in p for p in problems), problems


def test_validate_passes_on_the_course():
    proc = run_cli("validate", EX, "--no-progress")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "checks passed" in proc.stdout


def test_validate_fails_when_a_hidden_test_cannot_pass(course_copy):
    nb_path = course_copy / "solutions" / EX / f"{NB}.ipynb"
    nb = nbformat.read(nb_path, as_version=4)
    cell = next(
        c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "test_tanh"
    )
    cell.source = cell.source.replace(
        "### END HIDDEN TESTS", "assert False, 'impossible'\n### END HIDDEN TESTS"
    )
    nbformat.write(nb, nb_path)
    proc = run_cli("validate", EX, "--no-progress", env={"I2DL_COURSE_ROOT": str(course_copy)})
    assert proc.returncode != 0
    assert "test_tanh" in proc.stdout and "FAIL" in proc.stdout
