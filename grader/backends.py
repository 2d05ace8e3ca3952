"""Where hand-ins are graded: in this process, in a local process pool, or on a Dask cluster.

The grading loop (:func:`grader.scheduler.run_class`) hands each hand-in to a *pool* as a job of
plain data and gets plain data back; the pool decides where the work runs. A job holds the
student's name and the bytes of their regular files, so a worker needs no view of the
submissions folder; a result holds the scores (:class:`~grader.results.NotebookResult` as a dict),
the warnings, and the bytes of the files grading wrote for that student (``submitted/``,
``autograded/``, ``feedback/``). The main process alone writes the output folder.

Nothing student-controlled is ever unpickled outside a sandbox: jobs and results are dicts of
strings, numbers and ``bytes`` built by the grader itself (a student's text only ever appears
inside a ``str`` or ``bytes`` value), and the student's code runs only in sandboxed kernels on
the worker. Dask's own protocol still pickles those dicts, so it must run on a trusted network
(loopback, a private cluster network) or over TLS.

Workers on a cluster receive what they need of the course with the first job: every file of
``solutions/<exercise>/`` for the graded exercises (sent once per worker as a scattered
future), and check that they run the same grader and ``i2dl`` code as the main process.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import threading
import traceback
from collections.abc import Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import asdict
from pathlib import Path, PurePosixPath
from typing import Any

from grader.autograde import ClassGrader, GradingOptions
from grader.course import GraderError, Repository, mark_scratch_gradebook, use_alembic_head
from grader.kernels import POOL
from grader.sandbox import describe, sandbox_available
from grader.submissions import StudentSubmission

# Where the main process prepares the exercises once for the local workers (OUT/.workers/...).
TEMPLATE = "prepared"
# Folders of the course root that hold one sub-folder per student and travel back as data.
STUDENT_FOLDERS = ("submitted", "autograded", "feedback")


class WorkerLost(Exception):
    """The worker grading a hand-in died (the hand-in may be retried elsewhere)."""


class SchedulerLost(GraderError):
    """The connection to the cluster's scheduler is gone: the run stops; a re-run resumes."""


# -- the worker side ----------------------------------------------------------------------------


def code_digest() -> str:
    """Hash of the grader's and i2dl's source files: workers must run the same code."""
    import grader
    import i2dl

    digest = hashlib.sha256()
    for package in (grader, i2dl):
        root = Path(package.__file__).resolve().parent
        for path in sorted(root.rglob("*.py")):
            digest.update(path.relative_to(root).as_posix().encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def read_tree(folder: Path) -> dict[str, bytes]:
    """``relative path -> bytes`` of every regular file under ``folder``, links never followed."""
    files: dict[str, bytes] = {}
    stack = [(folder, PurePosixPath())]
    while stack:
        current, rel = stack.pop()
        with os.scandir(current) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    stack.append((Path(entry.path), rel / entry.name))
                elif entry.is_file(follow_symlinks=False):
                    files[(rel / entry.name).as_posix()] = Path(entry.path).read_bytes()
    return files


def _safe_relative(path: str) -> PurePosixPath:
    rel = PurePosixPath(path)
    if rel.is_absolute() or not rel.parts or ".." in rel.parts or "" in rel.parts:
        raise ValueError(f"refusing the path {path!r}")
    return rel


def write_tree(folder: Path, files: dict[str, bytes]) -> None:
    """Write ``relative path -> bytes`` under ``folder`` (paths checked to stay inside)."""
    for path, data in sorted(files.items()):
        target = folder.joinpath(*_safe_relative(path).parts)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)


def make_job(
    sub: StudentSubmission, exercises: list[str], spare: bool = True
) -> dict[str, Any]:
    """The data a worker needs to grade one hand-in (``spare``: the worker should boot its next
    kernel while grading this one, because another hand-in is likely to follow)."""
    files = {}
    if sub.problem is None:
        for exercise in exercises:
            folder = sub.exercises.get(exercise)
            if folder is not None:
                files[exercise] = read_tree(folder)
    return {
        "student": sub.student,
        "problem": sub.problem,
        "files": files,
        "left_out": dict(sub.left_out),  # what staging refused, reported by the worker
        "spare": spare,
    }


class _WorkerState:
    """The graders one worker process keeps, one per course configuration (``spec["key"]``)."""

    lock = threading.Lock()  # a worker process grades one hand-in at a time
    graders: dict[str, tuple[ClassGrader, dict[str, dict[str, float]]]] = {}
    digest: str | None = None


def _worker_root(spec: dict[str, Any]) -> Path:
    if spec.get("root"):
        return Path(spec["root"]) / str(os.getpid())
    from distributed import get_worker

    return Path(get_worker().local_directory) / "i2dl-grader" / spec["key"][:16]


def _grader_for(spec: dict[str, Any]) -> tuple[ClassGrader, dict[str, dict[str, float]]]:
    kept = _WorkerState.graders.get(spec["key"])
    if kept is not None and kept[0].out.is_dir():
        return kept
    if spec.get("alembic"):
        use_alembic_head(spec["alembic"])
    root = _worker_root(spec)
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    if spec.get("material") is not None:
        repo_root = root / "course"
        for exercise, files in spec["material"].items():
            write_tree(repo_root / "solutions" / exercise, files)
    else:
        repo_root = Path(spec["repo_root"])
    out = root / "grading"
    mark_scratch_gradebook(f"sqlite:///{out.resolve() / 'gradebook.db'}")
    grader = ClassGrader(Repository(repo_root), out, spec["exercises"], spec["options"])
    grader.log_file = Path(spec.get("logs") or out / "logs") / f"worker-{os.getpid()}.log"
    template = spec.get("template")  # prepared by the main process (this machine only)
    max_scores = grader.prepare_from(Path(template)) if template else grader.prepare()
    kept = _WorkerState.graders[spec["key"]] = (grader, max_scores)
    return kept


def _code() -> str:
    if _WorkerState.digest is None:
        _WorkerState.digest = code_digest()
    return _WorkerState.digest


def _refusal(allow_unsandboxed: bool) -> str | None:
    if sandbox_available() or allow_unsandboxed:
        return None
    return (
        "bubblewrap (bwrap) is not installed on this worker, so student code would run "
        "without a sandbox; install it (apt-get install -y bubblewrap) or pass "
        "--allow-unsandboxed to grade without one"
    )


def worker_check(allow_unsandboxed: bool) -> dict[str, Any]:
    """What a cluster worker reports before grading starts: its code, its isolation, refusals."""
    return {"code": _code(), "isolation": describe(), "refused": _refusal(allow_unsandboxed)}


def grade_job(spec: dict[str, Any], job: dict[str, Any]) -> dict[str, Any]:
    """Grade one hand-in on this worker; return plain data (see the module's docstring)."""
    refused = _refusal(spec["allow_unsandboxed"])
    if refused is None and spec.get("code") and _code() != spec["code"]:
        refused = (
            "this worker runs other grader or i2dl code than the main process "
            "(install the same version of the course package on every worker)"
        )
    if refused:
        return {"refused": refused}
    student = job["student"]
    with _WorkerState.lock:
        POOL.want_spare = bool(job.get("spare", True))
        grader, max_scores = _grader_for(spec)
        staging = grader.out / "handins" / student
        try:
            exercises = {}
            for exercise, files in job["files"].items():
                write_tree(staging / exercise, files)
                exercises[exercise] = staging / exercise
            sub = StudentSubmission(student, exercises, job["problem"], job["left_out"])
            before = len(grader.warnings)
            try:
                results = grader.grade_submission(sub, max_scores)
            except Exception:  # a grading bug: this hand-in crashes, the class goes on
                return {"error": traceback.format_exc(limit=8)}
            files = {}
            for folder in STUDENT_FOLDERS:
                source = grader.out / folder / student
                if source.is_dir():
                    for rel, data in read_tree(source).items():
                        files[f"{folder}/{student}/{rel}"] = data
            notes = grader.warnings[before:]
            del grader.warnings[before:]  # a worker may grade thousands of hand-ins
            return {"results": [asdict(r) for r in results], "warnings": notes, "files": files}
        finally:
            shutil.rmtree(staging, ignore_errors=True)
            for folder in STUDENT_FOLDERS:
                shutil.rmtree(grader.out / folder / student, ignore_errors=True)


# -- pools ------------------------------------------------------------------------------------


class InProcessPool:
    """Grades each job at once, in this process (one worker: no process start-up at all)."""

    capacity = 1
    workers = 1

    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec = spec

    def submit(self, job: dict[str, Any]) -> Future:
        future: Future = Future()
        try:
            future.set_result(grade_job(self.spec, job))
        except BaseException as exc:  # noqa: BLE001 - handed to the caller like a pool would
            future.set_exception(exc)
        return future

    def wait_any(self, handles: Iterable[Future]) -> list[Future]:
        return [h for h in handles if h.done()]

    def result(self, handle: Future) -> dict[str, Any]:
        return handle.result()

    def close(self) -> None:
        pass


class ProcessPool(InProcessPool):
    """A local pool of worker processes (``--workers N``)."""

    def __init__(self, spec: dict[str, Any], workers: int) -> None:
        super().__init__(spec)
        self.workers = workers
        self.capacity = 2 * workers
        self.executor = ProcessPoolExecutor(workers)

    def submit(self, job: dict[str, Any]) -> Future:
        return self.executor.submit(grade_job, self.spec, job)

    def wait_any(self, handles: Iterable[Future]) -> list[Future]:
        return list(wait(list(handles), return_when=FIRST_COMPLETED).done)

    def close(self) -> None:
        self.executor.shutdown(wait=True, cancel_futures=True)


class DaskPool:
    """Jobs on a running Dask cluster (``--scheduler ADDRESS``)."""

    def __init__(self, address: str, spec: dict[str, Any], timeout: float = 10.0) -> None:
        try:
            from distributed import Client
        except ImportError as exc:  # pragma: no cover - dask is in the dev and cluster extras
            raise GraderError(
                "grading on a cluster needs dask's `distributed` package: "
                "pip install 'i2dl-course[cluster]'"
            ) from exc
        self.address = address
        # The client logs every failed reconnection with a traceback; the grader says itself
        # what went wrong and what to do.
        for name in ["distributed", *logging.root.manager.loggerDict]:
            if name.startswith("distributed"):
                logging.getLogger(name).setLevel(logging.CRITICAL)
        try:
            self.client = Client(address, timeout=timeout, set_as_default=False)
        except (OSError, TimeoutError) as exc:
            raise GraderError(
                f"could not reach a Dask scheduler at {address} after {timeout:g} s ({exc}); "
                "start one with `dask scheduler` and workers with "
                "`dask worker ADDRESS --nthreads 1`, or wait longer with --connect-timeout"
            ) from exc
        self.isolation = self._check_workers(spec)
        self.spec = self.client.scatter(spec, broadcast=True, hash=False)
        threads = sum(self.client.nthreads().values())
        self.workers = max(1, threads)
        self.capacity = max(2, 2 * threads)

    def _check_workers(self, spec: dict[str, Any]) -> str:
        if not self.client.nthreads():
            raise GraderError(f"the Dask scheduler at {self.address} has no workers")
        reports = self.client.run(worker_check, spec["allow_unsandboxed"])
        problems = []
        for worker, report in sorted(reports.items()):
            if report["refused"]:
                problems.append(f"{worker}: {report['refused']}")
            elif report["code"] != spec["code"]:
                problems.append(
                    f"{worker}: runs other grader or i2dl code than this machine (install the "
                    "same version of the course package on every worker)"
                )
        if problems:
            self.client.close()
            raise GraderError("refusing to grade on this cluster:\n  " + "\n  ".join(problems))
        return "; ".join(sorted({r["isolation"] for r in reports.values()}))

    def submit(self, job: dict[str, Any]):
        key = f"i2dl-grade-{job['student']}-{os.urandom(4).hex()}"
        return self.client.submit(grade_job, self.spec, job, pure=False, key=key)

    def wait_any(self, handles):
        from distributed import wait as dask_wait

        try:
            with self.client.as_current():
                return list(dask_wait(list(handles), return_when="FIRST_COMPLETED").done)
        except Exception as exc:  # the futures were cancelled: the scheduler is gone
            raise self._lost(exc) from exc

    def result(self, handle) -> dict[str, Any]:
        from distributed import KilledWorker

        if handle.status == "cancelled":
            raise self._lost(None)
        try:
            return handle.result()
        except KilledWorker as exc:
            raise WorkerLost(f"the worker grading it died ({exc})") from exc
        except Exception as exc:  # the task failed on its worker (its disk, its memory...)
            if handle.status == "cancelled":
                raise self._lost(exc) from exc
            raise WorkerLost(f"{type(exc).__name__}: {str(exc)[:200]}") from exc

    def _lost(self, exc: Exception | None) -> SchedulerLost:
        why = f" ({type(exc).__name__})" if exc is not None else ""
        return SchedulerLost(
            f"lost the Dask scheduler at {self.address}{why}; the hand-ins graded so far are "
            "kept in OUT's journal: run the same command again to resume"
        )

    def close(self) -> None:
        try:
            self.client.close(timeout=5)
        except Exception:  # noqa: BLE001 - closing a client whose scheduler is gone
            pass


def course_spec(
    repo: Repository,
    exercises: list[str],
    options: GradingOptions,
    out: Path,
    alembic: str,
    cluster: bool,
    allow_unsandboxed: bool = False,
) -> dict[str, Any]:
    """What every worker needs to set up grading; its key names the configuration."""
    spec: dict[str, Any] = {
        "exercises": list(exercises),
        "options": options,
        "alembic": alembic,
        # On this machine, grading without bubblewrap goes on with a loud warning, as it always
        # has; a cluster worker without it refuses unless the instructor allowed it.
        "allow_unsandboxed": allow_unsandboxed or not cluster,
    }
    if cluster:
        # workers elsewhere must run this machine's code, and get the exercises' sources
        spec["code"] = code_digest()
        spec["material"] = {ex: read_tree(repo.solutions / ex) for ex in exercises}
    else:
        spec["repo_root"] = str(repo.root)
        spec["root"] = str(out / ".workers")
        spec["logs"] = str(out / "logs")
        # the exercises prepared once, copied by each worker (see scheduler.prepare_class)
        spec["template"] = str(out / ".workers" / TEMPLATE)
    digest = hashlib.sha256(repr(sorted((k, repr(v)) for k, v in spec.items())).encode())
    spec["key"] = digest.hexdigest()
    return spec
