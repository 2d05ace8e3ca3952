"""The grader end to end through the CLI on a small class."""

from __future__ import annotations

import pytest

from grader.sample import student_version, write_notebook
from grader.sandbox import sandbox_available
from tests.grader.conftest import EX, NB, REPO, read_grades, run_cli

pytestmark = pytest.mark.grader


def test_grades_csv_has_the_contract_header(graded_class):
    out, _, _ = graded_class
    header = (out / "grades.csv").read_text().splitlines()[0]
    assert header == "student,exercise,notebook,score,max_score,status"


def test_solution_scores_full_marks(graded_class):
    _, grades, _ = graded_class
    row = grades["full"]
    assert (row["exercise"], row["notebook"]) == (EX, NB)
    assert (row["score"], row["max_score"], row["status"]) == ("100", "100", "ok")


def test_release_scores_zero(graded_class):
    _, grades, _ = graded_class
    assert (grades["blank"]["score"], grades["blank"]["status"]) == ("0", "ok")


def test_half_done_scores_strictly_between(graded_class):
    _, grades, report = graded_class
    score = float(grades["half"]["score"])
    assert 0 < score < 100, score
    tests = {
        t["grade_id"]: t
        for s in report["submissions"]
        if s["student"] == "half"
        for t in s["tests"]
    }
    assert tests["test_affine_forward"]["score"] == 10
    assert tests["test_relu"]["score"] == 10
    assert tests["test_sigmoid"]["score"] == 0
    assert "NotImplementedError" in tests["test_sigmoid"]["error"]


def test_syntax_error_scores_zero_and_others_still_graded(graded_class):
    _, grades, report = graded_class
    # The syntax error sits in the first answer cell; every test needs affine_forward or
    # runs after it, but the activation tests do not: they must still earn their points.
    row = grades["syntax"]
    assert row["status"] == "ok"
    detail = next(s for s in report["submissions"] if s["student"] == "syntax")
    by_id = {t["grade_id"]: t for t in detail["tests"]}
    assert by_id["test_affine_forward"]["score"] == 0
    assert "NameError" in by_id["test_affine_forward"]["error"]
    assert by_id["test_tanh"]["score"] == by_id["test_tanh"]["max_score"]
    assert grades["full"]["score"] == "100"  # graded after it, unaffected


def test_correct_code_that_warns_gets_full_marks(graded_class):
    out, grades, _ = graded_class
    assert (grades["warns"]["score"], grades["warns"]["status"]) == ("100", "ok")
    autograded = (out / "autograded" / "warns" / EX / f"{NB}.ipynb").read_text()
    assert "harmless warning" in autograded  # the warning was really emitted


def test_huge_output_is_capped_and_costs_nothing(graded_class):
    out, grades, _ = graded_class
    assert (grades["loud"]["score"], grades["loud"]["status"]) == ("100", "ok")
    autograded = out / "autograded" / "loud" / EX / f"{NB}.ipynb"
    assert autograded.stat().st_size < 500_000
    assert "output truncated by the grader" in autograded.read_text()


@pytest.mark.parametrize(("student", "changes"), [
    ("deleter", ["test_relu: deleted or re-labelled; restored from the source"]),
    ("duplicator", ["test_relu: handed in 2 times; graded once"]),
    ("relabeller", ["unknown test cell 'my_relu_test' (it is test_relu re-labelled): ignored",
                    "test_relu: deleted or re-labelled; restored from the source"]),
    ("stripper", ["test_relu: its grading metadata was removed; restored from the source"]),
    ("inflator", ["test_relu: points changed to 1000; worth 10 as released"]),
    ("emptier", ["test_relu: edited; restored from the source"]),
    ("kernelspec", []),
    ("full", []),
])
def test_tampered_test_cells_are_restored_and_reported(graded_class, student, changes):
    _, grades, report = graded_class
    row = grades[student]
    assert (row["score"], row["max_score"], row["status"]) == ("100", "100", "ok")
    detail = next(s for s in report["submissions"] if s["student"] == student)
    assert detail["cell_changes"] == changes


def test_test_cells_replaced_by_pass_earn_nothing(graded_class):
    _, grades, report = graded_class
    assert (grades["gutted"]["score"], grades["gutted"]["status"]) == ("0", "ok")
    detail = next(s for s in report["submissions"] if s["student"] == "gutted")
    assert len(detail["cell_changes"]) == 10
    assert all(c.endswith(": edited; restored from the source") for c in detail["cell_changes"])


def test_invalid_json_gets_zero_with_status(graded_class):
    _, grades, report = graded_class
    row = grades["badjson"]
    assert (row["score"], row["max_score"], row["status"]) == ("0", "100", "invalid")
    detail = next(s for s in report["submissions"] if s["student"] == "badjson")
    assert "not a valid notebook" in detail["reason"]


def test_missing_notebook_is_reported(graded_class):
    _, grades, _ = graded_class
    assert (grades["nothing"]["score"], grades["nothing"]["status"]) == ("0", "missing")


def test_zip_submission_is_accepted(graded_class):
    _, grades, _ = graded_class
    assert (grades["zipper"]["score"], grades["zipper"]["status"]) == ("100", "ok")


def test_report_has_per_test_cell_detail(graded_class):
    _, _, report = graded_class
    full = next(s for s in report["submissions"] if s["student"] == "full")
    assert len(full["tests"]) >= 8
    assert sum(t["max_score"] for t in full["tests"]) == 100
    assert all(t["error"] is None for t in full["tests"])


def test_feedback_is_written_without_hidden_tests(graded_class, repo):
    out, _, _ = graded_class
    html = (out / "feedback" / "half" / EX / f"{NB}.html").read_text()
    assert "test_affine_forward" in html or "affine_forward" in html
    for secret in ("BEGIN HIDDEN TESTS", "call_own", "_rng = np.random.default_rng()"):
        assert secret not in html, secret


def test_files_handed_in_next_to_the_notebook_are_in_the_working_folder(graded_class):
    out, grades, _ = graded_class
    assert (grades["bundler"]["score"], grades["bundler"]["status"]) == ("100", "ok")
    autograded = (out / "autograded" / "bundler" / EX / f"{NB}.ipynb").read_text()
    assert "handed in: hello" in autograded
    # the kernel wrote into its own copy; the hand-in is untouched
    assert (out / "submitted" / "bundler" / EX / "notes.txt").read_text() == "hello"


def test_feedback_shows_scores_and_reasons_but_no_html_from_outputs(graded_class):
    out, _, _ = graded_class
    page = (out / "feedback" / "half" / EX / f"{NB}.html").read_text()
    assert "Score <strong>45 / 100</strong>" in page
    assert "<td>test_sigmoid</td><td>0 / 10</td><td>NotImplementedError:" in page
    bundled = (out / "feedback" / "bundler" / EX / f"{NB}.html").read_text()
    assert "<script>" not in bundled  # HTML from outputs is not put on the page
    assert "&lt;IPython.core.display.HTML object&gt;" in bundled  # its plain-text form is


def test_gradebook_is_written(graded_class):
    out, _, _ = graded_class
    assert (out / "gradebook.db").stat().st_size > 0


def test_unknown_exercise_is_a_clear_error(tmp_path):
    proc = run_cli(
        "autograde", str(tmp_path), "--out", str(tmp_path / "o"), "--exercise", "ex99_nope"
    )
    assert proc.returncode != 0
    assert "unknown exercise" in proc.stderr and "ex03_layers" in proc.stderr


def test_missing_submissions_folder_is_a_clear_error(tmp_path):
    proc = run_cli("autograde", str(tmp_path / "absent"), "--out", str(tmp_path / "o"))
    assert proc.returncode != 0
    assert "does not exist" in proc.stderr


LIMITS_PROBE = (
    "\nimport os, resource\n"
    "_names = ('AS', 'NPROC', 'FSIZE', 'NOFILE')\n"
    "print('limits', *[resource.getrlimit(getattr(resource, 'RLIMIT_' + n))[0] for n in _names])\n"
    "_disk = os.statvfs('.')\n"
    "print('scratch MiB', _disk.f_blocks * _disk.f_frsize // 2**20)\n"
)


def test_resource_limits_are_configurable(tmp_path):
    subs = tmp_path / "subs"
    nb = student_version(REPO, EX, NB, rewrite={"leaky_relu": lambda s: s + LIMITS_PROBE})
    write_notebook(nb, subs / "probe" / EX / f"{NB}.ipynb")
    out = tmp_path / "out"
    proc = run_cli(
        "autograde", str(subs), "--out", str(out), "--exercise", EX, "--no-progress",
        "--memory-limit", "2048", "--max-processes", "48", "--max-file-size", "32",
        "--max-open-files", "100", "--scratch-size", "64",
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert read_grades(out)["probe"]["score"] == "100"
    autograded = (out / "autograded" / "probe" / EX / f"{NB}.ipynb").read_text()
    assert f"limits {2048 * 2**20} 48 {32 * 2**20} 100" in autograded
    if sandbox_available():
        assert "scratch MiB 64" in autograded
