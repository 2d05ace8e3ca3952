"""Grading on a real Dask cluster: a scheduler and two workers on loopback, as separate processes.

Each worker runs in its own working directory with no view of the submissions folder or the
course: the hand-ins and the exercise's source travel to it as data. The cluster's output must
equal local grading of the same class; a worker killed mid-run costs nothing; a lost scheduler
stops the run and a re-run resumes from the journal.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from distributed import Client

from grader.autograde import ClassGrader, GradingOptions
from grader.backends import WorkerLost, read_tree
from grader.loopback import LoopbackCluster, wait_until
from grader.sample import student_version, write_notebook
from grader.scheduler import run_class
from grader.submissions import discover
from tests.grader.conftest import EX, NB, REPO, read_grades, run_cli

pytestmark = pytest.mark.grader

# Partial hand-ins, cycled through the class: solved answer cells (None: all of them).
KINDS = [None, [], ["affine_forward", "relu"], ["relu", "sigmoid", "tanh"]]
SCORES = {0: "100", 1: "0", 2: "20", 3: "35"}


@pytest.fixture(scope="module")
def class_folder(tmp_path_factory):
    subs = tmp_path_factory.mktemp("cluster") / "submissions"
    for i in range(8):
        nb = student_version(REPO, EX, NB, KINDS[i % len(KINDS)])
        write_notebook(nb, subs / f"s{i}" / EX / f"{NB}.ipynb")
    # a data file next to the notebook travels with the hand-in
    (subs / "s0" / EX / "notes.txt").write_text("s0's notes")
    return subs


@pytest.fixture(scope="module")
def local(class_folder, tmp_path_factory):
    out = tmp_path_factory.mktemp("local") / "out"
    proc = run_cli("autograde", str(class_folder), "--out", str(out), "--exercise", EX,
                   "--workers", "2", "--no-progress")
    assert proc.returncode == 0, proc.stderr
    return out


@pytest.fixture
def cluster(tmp_path):
    with LoopbackCluster(tmp_path / "cluster", workers=2) as running:
        yield running


def _report_without_timings(out: Path) -> dict:
    report = json.loads((out / "report.json").read_text())
    for row in report["submissions"]:
        row.pop("seconds")
    return report


def _same_output(a: Path, b: Path) -> None:
    assert (a / "grades.csv").read_bytes() == (b / "grades.csv").read_bytes()
    assert _report_without_timings(a) == _report_without_timings(b)
    for folder in ("submitted", "autograded", "feedback"):
        assert read_tree(a / folder) == read_tree(b / folder), folder


def _expected_scores() -> dict[str, str]:
    return {f"s{i}": SCORES[i % len(KINDS)] for i in range(8)}


def test_the_cluster_grades_exactly_as_this_machine_does(class_folder, local, cluster, tmp_path):
    out = tmp_path / "out"
    proc = run_cli("autograde", str(class_folder), "--out", str(out), "--exercise", EX,
                   "--scheduler", cluster.address, "--no-progress")
    assert proc.returncode == 0, proc.stderr
    assert {s: row["score"] for s, row in read_grades(out).items()} == _expected_scores()
    _same_output(out, local)
    # the workers graded in their own folders; nothing of theirs is left in OUT
    assert not (out / ".workers").exists()
    worked = [w for w in (cluster.root / "worker0", cluster.root / "worker1")
              if any(w.rglob("gradebook.db"))]
    assert len(worked) == 2, "both workers should have graded"

    def spare_booted() -> bool:  # defined here: sent to the workers by value
        from grader.kernels import POOL

        return POOL.spare is not None and POOL.spare.alive()

    # A cluster worker outlives the run: it keeps one fresh kernel for the next run's first
    # hand-in (a local worker does not, see test_scheduler).
    def diagnostics() -> tuple:
        import dask

        return tuple(dask.config.get(f"distributed.{key}") for key in (
            "worker.profile.enabled", "admin.tick.interval", "worker.memory.monitor-interval",
            "admin.system-monitor.interval",
        ))

    with Client(cluster.address, timeout=10, set_as_default=False) as client:
        assert list(client.run(spare_booted).values()) == [True, True]
        # the workers run with GRADING_DASK_ENV: no 10 ms profiler, no 20 ms event-loop checks
        assert set(client.run(diagnostics).values()) == {(False, "1s", "1s", "2s")}
        assert client.run_on_scheduler(diagnostics)[1:2] == ("1s",)


def test_a_worker_killed_mid_run_costs_nothing(class_folder, local, cluster, tmp_path):
    out = tmp_path / "out"
    proc = subprocess.Popen(
        [sys.executable, "-m", "grader", "autograde", str(class_folder), "--out", str(out),
         "--exercise", EX, "--scheduler", cluster.address, "--no-progress"],
        cwd=REPO.root, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    journal = out / ".state" / "journal.jsonl"
    wait_until(lambda: journal.exists() or proc.poll() is not None, "grading", timeout=300)
    cluster.workers[0].send_signal(signal.SIGKILL)
    stdout, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 0, stderr
    assert "grading it again" in stderr, stderr
    assert {s: row["score"] for s, row in read_grades(out).items()} == _expected_scores()
    _same_output(out, local)


def test_a_lost_scheduler_stops_the_run_and_a_rerun_resumes(class_folder, local, tmp_path):
    cluster = LoopbackCluster(tmp_path / "cluster", workers=2).start()
    out = tmp_path / "out"
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "grader", "autograde", str(class_folder), "--out", str(out),
             "--exercise", EX, "--scheduler", cluster.address, "--no-progress"],
            cwd=REPO.root, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        journal = out / ".state" / "journal.jsonl"
        wait_until(lambda: journal.exists() or proc.poll() is not None, "grading", 300)
        cluster.scheduler.send_signal(signal.SIGKILL)
        _, stderr = proc.communicate(timeout=120)
        assert proc.returncode == 2, stderr
        assert "lost the Dask scheduler" in stderr and "run the same command again" in stderr
        assert "Traceback" not in stderr
        done = len(journal.read_text().splitlines())
        assert 1 <= done < 8, f"{done} hand-ins were graded before the scheduler died"
        cluster.stop()
        cluster.start()
        again = run_cli("autograde", str(class_folder), "--out", str(out), "--exercise", EX,
                        "--scheduler", cluster.address)
        assert again.returncode == 0, again.stderr
        assert f"{done} hand-in(s) already graded; grading {8 - done}" in again.stderr
        assert len(journal.read_text().splitlines()) == 8
        _same_output(out, local)
    finally:
        cluster.stop()


def test_workers_without_a_sandbox_refuse_unless_allowed(class_folder, tmp_path):
    # I2DL_BWRAP="" makes the worker behave as if bubblewrap were not installed
    cluster = LoopbackCluster(tmp_path / "cluster", workers=1, worker_env={"I2DL_BWRAP": ""})
    cluster.start()
    try:
        out = tmp_path / "out"
        proc = run_cli("autograde", str(class_folder), "--out", str(out), "--exercise", EX,
                       "--scheduler", cluster.address)
        assert proc.returncode == 2
        assert "bubblewrap (bwrap) is not installed on this worker" in proc.stderr
        assert "--allow-unsandboxed" in proc.stderr
        assert not (out / "grades.csv").exists()
        proc = run_cli("autograde", str(class_folder), "--out", str(out), "--exercise", EX,
                       "--scheduler", cluster.address, "--allow-unsandboxed", "--no-progress")
        assert proc.returncode == 0, proc.stderr
        assert {s: row["score"] for s, row in read_grades(out).items()} == _expected_scores()
        report = json.loads((out / "report.json").read_text())
        assert report["isolation"].startswith("WARNING: bubblewrap")
        assert report["warnings"][0] == report["isolation"]
    finally:
        cluster.stop()


def test_no_scheduler_at_the_address_is_a_clear_error(class_folder, tmp_path):
    proc = run_cli("autograde", str(class_folder), "--out", str(tmp_path / "out"),
                   "--exercise", EX, "--scheduler", "tcp://127.0.0.1:9", "--no-progress",
                   "--connect-timeout", "1")
    assert proc.returncode == 2
    assert "could not reach a Dask scheduler at tcp://127.0.0.1:9" in proc.stderr
    assert "after 1 s" in proc.stderr


class _DyingPool:
    """A pool whose worker dies on every hand-in of one student."""

    capacity = 1
    workers = 1

    def __init__(self, spec, *_args):
        from grader.backends import InProcessPool

        self.inner = InProcessPool(spec)
        self.tries: dict[str, int] = {}

    def submit(self, job):
        self.tries[job["student"]] = self.tries.get(job["student"], 0) + 1
        if job["student"] == "s1":
            return ("dead", job["student"])
        return self.inner.submit(job)

    def wait_any(self, handles):
        return list(handles)

    def result(self, handle):
        if isinstance(handle, tuple):
            raise WorkerLost("the worker grading it died (simulated)")
        return handle.result()

    def close(self):
        _DyingPool.last = self


def test_a_hand_in_whose_worker_dies_twice_is_crashed_and_the_rest_graded(
    class_folder, tmp_path, monkeypatch
):
    import grader.scheduler

    monkeypatch.setattr(grader.scheduler, "InProcessPool", _DyingPool)
    grader = ClassGrader(REPO, tmp_path / "out", [EX], GradingOptions(workers=1, progress=False))
    students = [s for s in discover(class_folder, [EX], tmp_path / "unpacked")
                if s.student in ("s0", "s1", "s2")]
    results = {r.student: r for r in run_class(grader, students)}
    assert _DyingPool.last.tries == {"s0": 1, "s1": 2, "s2": 1}
    assert results["s1"].status == "crashed" and results["s1"].score == 0
    assert results["s1"].reason.startswith("grading failed twice: the worker grading it died")
    assert (results["s0"].score, results["s2"].score) == (100, 20)
    assert read_grades(tmp_path / "out")["s1"]["status"] == "crashed"
