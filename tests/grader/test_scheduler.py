"""Parallel workers, resumable runs and the class gradebook."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import time

import pytest
from nbgrader.api import Gradebook

from grader.course import COURSE_ID
from grader.results import NotebookResult
from grader.sample import student_version, write_notebook
from grader.scheduler import Progress, load_journal, record_in_gradebook
from tests.grader.conftest import EX, NB, REPO, read_grades, run_cli

pytestmark = pytest.mark.grader


@pytest.fixture(scope="module")
def small_class(tmp_path_factory):
    subs = tmp_path_factory.mktemp("small") / "submissions"
    versions = {"full": None, "half": ["affine_forward", "relu"], "blank": []}
    for student, solved in versions.items():
        nb = student_version(REPO, EX, NB, solved)
        write_notebook(nb, subs / student / EX / f"{NB}.ipynb")
    return subs


@pytest.fixture(scope="module")
def graded(small_class, tmp_path_factory):
    """OUT of ``small_class`` graded by two grading processes; copy it to change it (a grading
    run takes seconds, and the tests below only need one to start from)."""
    out = tmp_path_factory.mktemp("graded") / "out"
    _grade(small_class, out, "--workers", "2")
    return out


def _copy(out, tmp_path):
    return shutil.copytree(out, tmp_path / "out")


def _grade(subs, out, *extra, env=None):
    proc = run_cli("autograde", str(subs), "--out", str(out), "--exercise", EX, *extra, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


def _journal(out):
    return (out / ".state" / "journal.jsonl").read_text().splitlines()


def _tests(out):
    report = json.loads((out / "report.json").read_text())
    return {(s["student"], t["grade_id"]): t["score"] for s in report["submissions"]
            for t in s["tests"]}


def test_results_do_not_depend_on_the_number_of_workers(small_class, tmp_path, short_tmp):
    _grade(small_class, tmp_path / "one", "--workers", "1", env={"TMPDIR": str(short_tmp)})
    _grade(small_class, tmp_path / "two", "--workers", "2", env={"TMPDIR": str(short_tmp)})
    # every kernel, the spare ones the workers kept booting included, is gone
    assert list(short_tmp.iterdir()) == []
    one, two = tmp_path / "one", tmp_path / "two"
    assert (one / "grades.csv").read_text() == (two / "grades.csv").read_text()
    assert _tests(one) == _tests(two)
    grades = read_grades(two)
    assert {s: grades[s]["score"] for s in grades} == {"full": "100", "half": "20", "blank": "0"}


def test_kernel_folders_of_a_killed_grader_are_removed_by_the_next_run(
    small_class, tmp_path, short_tmp
):
    env = {"TMPDIR": str(short_tmp)}  # of both runs
    proc = subprocess.Popen(
        [sys.executable, "-m", "grader", "autograde", str(small_class), "--out",
         str(tmp_path / "killed"), "--exercise", EX, "--workers", "1", "--no-progress"],
        cwd=REPO.root, env={**os.environ, **env},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    # A kernel up and listening (its sockets exist): its sandbox dies with the grader.
    while not list(short_tmp.glob("i2dl-kernel-*/run/kernel-*")):
        assert proc.poll() is None and time.monotonic() < deadline, "no kernel started"
        time.sleep(0.05)
    proc.kill()  # as the out-of-memory killer would: no clean-up of its own
    proc.wait()
    assert list(short_tmp.iterdir()), "the killed grader left no kernel folder to clean up"
    _grade(small_class, tmp_path / "next", "--workers", "1", env=env)
    assert list(short_tmp.iterdir()) == []


def test_one_kernel_per_notebook_and_no_spare_after_the_last(small_class, tmp_path, monkeypatch):
    """The next kernel boots while a notebook is graded, but none after the last hand-in."""
    from grader import kernels
    from grader.autograde import GradingOptions
    from grader.scheduler import autograde

    started = []
    real_init = kernels.Kernel.__init__

    def counting_init(self, settings, *rest):
        started.append(settings)
        real_init(self, settings, *rest)

    monkeypatch.setattr(kernels.Kernel, "__init__", counting_init)
    results = autograde(REPO, small_class, tmp_path / "out", [EX],
                        GradingOptions(workers=1, progress=False))
    assert sorted(r.student for r in results) == ["blank", "full", "half"]
    assert len(started) == 3
    assert kernels.POOL.spare is None


def test_gradebook_holds_every_score(graded):
    grades = read_grades(graded)
    with Gradebook(f"sqlite:///{graded / 'gradebook.db'}", COURSE_ID) as gb:
        for student, row in grades.items():
            submission = gb.find_submission_notebook(NB, EX, student)
            assert submission.score == float(row["score"])
            assert submission.max_score == float(row["max_score"])


def test_recording_a_hand_in_again_is_all_or_nothing(graded, tmp_path, monkeypatch):
    """Replacing a hand-in's scores in the gradebook is one transaction: a failure half-way
    (after the old submission was removed) leaves the old scores, not a student without any."""
    out = _copy(graded, tmp_path)
    db_url = f"sqlite:///{out / 'gradebook.db'}"
    _, results, _ = load_journal(out)["half"]

    def fails(self, *args, **kwargs):
        raise RuntimeError("the disk went away")

    with Gradebook(db_url, COURSE_ID) as kept_open:  # as a grading run keeps it
        monkeypatch.setattr(Gradebook, "add_submission", fails)
        with pytest.raises(RuntimeError, match="the disk went away"):
            record_in_gradebook(kept_open, results, keep_manual=False)
        monkeypatch.undo()
        with Gradebook(db_url, COURSE_ID) as gb:
            assert gb.find_submission_notebook(NB, EX, "half").score == 20
            assert len(gb.find_assignment(EX).submissions) == 3
        record_in_gradebook(kept_open, results, keep_manual=False)  # still usable
    with Gradebook(db_url, COURSE_ID) as gb:
        assert gb.find_submission_notebook(NB, EX, "half").score == 20
        assert len(gb.find_assignment(EX).submissions) == 3


def test_rerun_skips_graded_hand_ins_and_regrades_changed_ones(small_class, graded, tmp_path):
    subs = tmp_path / "subs"
    shutil.copytree(small_class, subs)
    out = _copy(graded, tmp_path)  # graded from small_class: the copy's hand-ins are the same
    first = (out / "grades.csv").read_text()
    assert len(_journal(out)) == 3

    proc = _grade(subs, out)
    assert "3 hand-in(s) already graded; grading 0" in proc.stderr
    assert (out / "grades.csv").read_text() == first
    assert len(_journal(out)) == 3

    nb = student_version(REPO, EX, NB)  # "blank" hands in a full solution
    write_notebook(nb, subs / "blank" / EX / f"{NB}.ipynb")
    proc = _grade(subs, out)
    assert "grading 1" in proc.stderr
    assert read_grades(out)["blank"]["score"] == "100"

    proc = _grade(subs, out, "--force")
    assert "already graded" not in proc.stderr
    assert len(_journal(out)) == 3


def test_an_interrupted_run_resumes_without_losing_or_duplicating(small_class, graded, tmp_path):
    out = _copy(graded, tmp_path)
    expected = (out / "grades.csv").read_text()
    lines = _journal(out)
    # as if the run had been killed while writing the last entry
    (out / ".state" / "journal.jsonl").write_text("\n".join(lines[:-1]) + "\n" + lines[-1][:40])
    (out / "grades.csv").unlink()
    proc = _grade(small_class, out)
    assert "2 hand-in(s) already graded; grading 1" in proc.stderr
    assert (out / "grades.csv").read_text() == expected
    complete = [line for line in _journal(out) if line.endswith("}")]
    assert sorted(json.loads(line)["student"] for line in complete) == ["blank", "full", "half"]


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _result(student: str, status: str) -> NotebookResult:
    return NotebookResult(student, "ex", "nb", 0.0, 10.0, status)


def test_progress_is_a_bar_on_a_terminal_and_lines_in_a_log(monkeypatch):
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    progress = Progress(total=3, done=1, enabled=True)
    progress.update("ada", [_result("ada", "ok")])
    progress.update("bob", [_result("bob", "timeout")])
    progress.close()
    shown = terminal.getvalue()
    assert "3/3" in shown and "hand-in" in shown
    assert "[3/3] bob: nb 0/10 timeout" in shown  # what went wrong stays on screen
    assert "[2/3] ada" not in shown
    log = io.StringIO()
    monkeypatch.setattr(sys, "stderr", log)
    progress = Progress(total=2, done=0, enabled=True)
    progress.update("ada", [_result("ada", "ok")])
    progress.close()
    assert log.getvalue() == "[1/2] ada: nb 0/10 ok\n"
