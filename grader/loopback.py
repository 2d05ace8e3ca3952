"""A Dask cluster on this machine's loopback interface, for tests, benchmarks and trying out
``i2dl-grader autograde --scheduler``: a scheduler and workers as separate processes, each
worker in its own working folder, nothing listening beyond 127.0.0.1.

    with LoopbackCluster(folder, workers=2) as cluster:
        ... --scheduler cluster.address ...
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

SCHEDULER = [sys.executable, "-m", "distributed.cli.dask_scheduler"]
WORKER = [sys.executable, "-m", "distributed.cli.dask_worker"]

# Dask settings for grading, given to the scheduler and workers as environment variables (the
# README gives them for lab machines and Slurm too).
GRADING_DASK_ENV = {
    # No automatic retries in the scheduler: the grader's own rule decides (a hand-in whose
    # worker died is graded once more elsewhere, then reported as crashed).
    "DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES": "0",
    # A grading task runs for seconds, and nobody watches a dashboard: Dask's diagnostics poll
    # by default every 10 ms (a statistical profiler of the worker's threads), 20 ms (event
    # loop checks), 100 ms (memory) and 500 ms (system monitor). Measured on this project's
    # 2-core machine, an idle worker used 38 ms of CPU a second and the scheduler 20; with
    # these, 3 and 5.
    "DASK_DISTRIBUTED__WORKER__PROFILE__ENABLED": "False",
    "DASK_DISTRIBUTED__ADMIN__TICK__INTERVAL": "1s",
    "DASK_DISTRIBUTED__WORKER__MEMORY__MONITOR_INTERVAL": "1s",
    "DASK_DISTRIBUTED__ADMIN__SYSTEM_MONITOR__INTERVAL": "2s",
}


def wait_until(ready: Callable[[], bool], what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} did not happen within {timeout:g} s")
        time.sleep(0.1)


class LoopbackCluster:
    """Start with :meth:`start` (or ``with``); :meth:`stop` kills every process."""

    def __init__(
        self, root: Path, workers: int = 2, worker_env: dict | None = None, pin: bool = False
    ) -> None:
        """``pin``: each worker (and the kernels it starts) runs on one CPU of its own, worker
        ``i`` on CPU ``i`` modulo the CPUs this process may use, as if on machines of their own;
        the scheduler and the grading command stay unpinned."""
        self.root = Path(root)
        self.n_workers = workers
        self.worker_env = worker_env or {}
        self.pin = pin
        self.scheduler: subprocess.Popen | None = None
        self.workers: list[subprocess.Popen] = []
        self.address = ""

    def __enter__(self) -> LoopbackCluster:
        return self.start()

    def __exit__(self, *_exc) -> None:
        self.stop()

    def start(self) -> LoopbackCluster:
        self.root.mkdir(parents=True, exist_ok=True)
        file = self.root / "scheduler.json"
        file.unlink(missing_ok=True)
        env = {**os.environ, **GRADING_DASK_ENV}
        with open(self.root / "scheduler.log", "ab") as log:
            self.scheduler = subprocess.Popen(
                [*SCHEDULER, "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                 "--scheduler-file", str(file)],
                env=env, stdout=subprocess.DEVNULL, stderr=log,
            )
        wait_until(lambda: file.exists() and file.stat().st_size > 0, "the scheduler's start")
        self.address = json.loads(file.read_text())["address"]
        self.add_workers(self.n_workers)
        return self

    def add_workers(self, n: int) -> None:
        cpus = sorted(os.sched_getaffinity(0))
        for _ in range(n):
            index = len(self.workers)
            folder = self.root / f"worker{index}"
            folder.mkdir(exist_ok=True)
            pinned = None
            if self.pin:
                cpu = cpus[index % len(cpus)]
                pinned = lambda cpu=cpu: os.sched_setaffinity(0, {cpu})  # noqa: E731
            with open(folder / "worker.log", "ab") as log:
                self.workers.append(subprocess.Popen(
                    [*WORKER, self.address, "--nthreads", "1", "--no-nanny", "--no-dashboard",
                     "--host", "127.0.0.1", "--local-directory", str(folder),
                     # load the grading code as the worker starts, not on its first hand-in
                     "--preload", "grader.backends"],
                    cwd=folder, env={**os.environ, **GRADING_DASK_ENV, **self.worker_env},
                    stdout=subprocess.DEVNULL, stderr=log, preexec_fn=pinned,
                ))
        from distributed import Client

        alive = sum(p.poll() is None for p in self.workers)
        with Client(self.address, timeout=30, set_as_default=False) as client:
            client.wait_for_workers(alive, timeout=60)

    def stop(self) -> None:
        for proc in [*self.workers, self.scheduler]:
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait()
        self.workers, self.scheduler = [], None
