"""Grading a whole class: parallel workers, one gradebook, resumable runs.

Each worker process grades whole hand-ins in a private course root
(``OUT/.workers/<n>/``, with its own nbgrader gradebook), so workers never share an SQLite file.
The main process alone writes the class's outputs: when a hand-in is done it moves that
student's autograded notebooks and feedback into ``OUT``, records the scores in
``OUT/gradebook.db`` and appends the results to a journal (``OUT/.state/journal.jsonl``). A
re-run reads the journal and skips every hand-in whose files are unchanged (``force`` regrades
all), so an interrupted run resumes without losing or duplicating grades. Results do not depend
on the number of workers: each hand-in is graded the same way, alone, in a fresh kernel.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, replace
from pathlib import Path

from nbgrader.api import Gradebook, MissingEntry
from tqdm import tqdm

from grader.autograde import ClassGrader, GradingOptions
from grader.course import (
    COURSE_ID,
    GraderError,
    Repository,
    alembic_head,
    mark_scratch_gradebook,
    use_alembic_head,
)
from grader.results import NotebookResult, TestResult, write_grades_csv, write_report
from grader.submissions import StudentSubmission, discover

JOURNAL = Path(".state") / "journal.jsonl"
_WORKER: ClassGrader | None = None
_WORKER_MAX_SCORES: dict[str, dict[str, float]] = {}


def fingerprint(sub: StudentSubmission, exercises: list[str]) -> str:
    """Hash of everything graded for this hand-in (the files of the graded exercises)."""
    digest = hashlib.sha256(sub.student.encode())
    digest.update((sub.problem or "").encode())
    for exercise in exercises:
        folder = sub.exercises.get(exercise)
        digest.update(f"|{exercise}|".encode())
        if folder is None:
            continue
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            digest.update(path.relative_to(folder).as_posix().encode())
            digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def _result_from_dict(data: dict) -> NotebookResult:
    tests = [TestResult(**t) for t in data.pop("tests")]
    return NotebookResult(**data, tests=tests)


def load_journal(out: Path) -> dict[str, tuple[str, list[NotebookResult]]]:
    """student -> (fingerprint, results) of hand-ins already graded into ``out``."""
    path = out / JOURNAL
    done: dict[str, tuple[str, list[NotebookResult]]] = {}
    if not path.exists():
        return done
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            entry = json.loads(line)
            results = [_result_from_dict(r) for r in entry["results"]]
        except (ValueError, KeyError, TypeError):
            continue  # a line cut off by an interruption: that hand-in is graded again
        done[entry["student"]] = (entry["fingerprint"], results)
    return done


def _append_journal(out: Path, student: str, digest: str, results: list[NotebookResult]) -> None:
    path = out / JOURNAL
    path.parent.mkdir(parents=True, exist_ok=True)
    line = json.dumps(
        {"student": student, "fingerprint": digest, "results": [asdict(r) for r in results]}
    )
    with open(path, "ab+") as fh:
        # A line cut off by an interrupted run must not swallow the next entry.
        if fh.seek(0, os.SEEK_END) > 0:
            fh.seek(-1, os.SEEK_END)
            if fh.read(1) != b"\n":
                fh.write(b"\n")
        fh.write(line.encode("utf-8") + b"\n")
        fh.flush()
        os.fsync(fh.fileno())


def _init_worker(
    repo_root: str,
    out: str,
    exercises: list[str],
    options: GradingOptions,
    alembic: str | None = None,
) -> None:
    global _WORKER, _WORKER_MAX_SCORES
    if alembic:
        use_alembic_head(alembic)
    root = Path(out) / ".workers" / str(os.getpid())
    if root.exists():
        shutil.rmtree(root)
    mark_scratch_gradebook(f"sqlite:///{root.resolve() / 'gradebook.db'}")
    _WORKER = ClassGrader(Repository(Path(repo_root)), root, exercises, options)
    _WORKER.log_file = Path(out) / "logs" / f"worker-{os.getpid()}.log"
    _WORKER_MAX_SCORES = _WORKER.prepare()


def _grade_in_worker(sub: StudentSubmission) -> tuple[str, list[NotebookResult], list[str]]:
    assert _WORKER is not None, "worker not initialised"
    before = len(_WORKER.warnings)
    results = _WORKER.grade_submission(sub, _WORKER_MAX_SCORES)
    return str(_WORKER.out), results, _WORKER.warnings[before:]


def _move_student_files(worker_root: Path, out: Path, student: str) -> None:
    for folder in ("submitted", "autograded", "feedback"):
        source = worker_root / folder / student
        target = out / folder / student
        if target.exists():
            shutil.rmtree(target)
        if source.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(str(source), str(target))


def record_in_gradebook(db_url: str, results: list[NotebookResult]) -> None:
    """Write one hand-in's scores into the class gradebook (replacing earlier ones)."""
    with Gradebook(db_url, COURSE_ID) as gb:
        student = results[0].student
        gb.update_or_create_student(student)
        for exercise in sorted({r.exercise for r in results}):
            try:
                gb.remove_submission(exercise, student)
            except MissingEntry:
                pass
            submission = gb.add_submission(exercise, student)
            notebooks = {nb.name: nb for nb in submission.notebooks}
            for r in (r for r in results if r.exercise == exercise):
                scores = {test.grade_id: test.score for test in r.tests}
                notebook = notebooks.get(r.notebook)
                for grade in notebook.grades if notebook is not None else []:
                    grade.auto_score = scores.get(grade.name, 0.0)
                    grade.needs_manual_grade = False
        gb.db.commit()


class Progress:
    """A progress bar on a terminal; one line per graded hand-in otherwise (logs, CI).

    On a terminal, hand-ins that did not end ``ok`` are also printed above the bar.
    """

    def __init__(self, total: int, done: int, enabled: bool) -> None:
        self.total, self.done, self.enabled = total, done, enabled
        self.bar = None
        if enabled and sys.stderr.isatty():
            self.bar = tqdm(total=total, initial=done, unit="hand-in", file=sys.stderr)

    def update(self, student: str, graded: list[NotebookResult]) -> None:
        self.done += 1
        if not self.enabled:
            return
        scores = ", ".join(f"{r.notebook} {r.score:g}/{r.max_score:g} {r.status}" for r in graded)
        line = f"[{self.done}/{self.total}] {student}: {scores}"
        if self.bar is None:
            print(line, file=sys.stderr, flush=True)
            return
        if any(r.status != "ok" for r in graded):
            self.bar.write(line, file=sys.stderr)
        self.bar.set_postfix_str(student, refresh=False)
        self.bar.update()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def run_class(
    grader: ClassGrader, students: list[StudentSubmission], force: bool = False
) -> list[NotebookResult]:
    """Grade every hand-in (in parallel), write grades.csv, report.json and the gradebook."""
    out, options = grader.out, grader.options
    if grader.isolation.startswith("WARNING"):
        print(grader.isolation, file=sys.stderr, flush=True)
    grader.prepare()
    db_url = grader.config.CourseDirectory.db_url
    journal = {} if force else load_journal(out)
    if force and (out / JOURNAL).exists():
        (out / JOURNAL).unlink()
    results: dict[str, list[NotebookResult]] = {}
    todo: list[tuple[StudentSubmission, str]] = []
    for sub in students:
        digest = fingerprint(sub, grader.exercises)
        previous = journal.get(sub.student)
        if previous and previous[0] == digest:
            results[sub.student] = previous[1]
        else:
            todo.append((sub, digest))
    if len(results) and options.progress:
        print(
            f"{len(results)} hand-in(s) already graded; grading {len(todo)} (use --force to "
            "regrade all)",
            file=sys.stderr,
            flush=True,
        )

    def finish(
        sub: StudentSubmission,
        digest: str,
        worker_root: str,
        graded: list[NotebookResult],
        warnings: list[str],
    ) -> None:
        _move_student_files(Path(worker_root), out, sub.student)
        record_in_gradebook(db_url, graded)
        _append_journal(out, sub.student, digest, graded)
        results[sub.student] = graded
        grader.warnings.extend(warnings)
        progress.update(sub.student, graded)

    progress = Progress(len(students), len(results), options.progress)
    workers = max(1, min(options.workers, len(todo)))
    init_args = (
        str(grader.repo.root),
        str(out),
        grader.exercises,
        replace(options, progress=False),
        alembic_head(),
    )
    try:
        if workers == 1:
            _init_worker(*init_args)
            for sub, digest in todo:
                finish(sub, digest, *_grade_in_worker(sub))
        else:
            with ProcessPoolExecutor(workers, initializer=_init_worker, initargs=init_args) as pool:
                futures = {
                    pool.submit(_grade_in_worker, sub): (sub, digest) for sub, digest in todo
                }
                for future in as_completed(futures):
                    sub, digest = futures[future]
                    finish(sub, digest, *future.result())
    finally:
        progress.close()
        shutil.rmtree(out / ".workers", ignore_errors=True)
    ordered = [r for student in sorted(results) for r in results[student]]
    write_grades_csv(ordered, out / "grades.csv")
    write_report(ordered, grader.warnings, out / "report.json", grader.isolation)
    return ordered


def autograde(
    repo: Repository,
    submissions: Path,
    out: Path,
    exercises: list[str] | None,
    options: GradingOptions,
    force: bool = False,
) -> list[NotebookResult]:
    """Grade ``submissions`` into ``out``; see :mod:`grader.autograde` for the layout."""
    if not submissions.is_dir():
        raise GraderError(f"submissions folder {submissions} does not exist")
    chosen = repo.resolve_exercises(exercises) if exercises else None
    grader = ClassGrader(repo, out, chosen or [], options)
    grader.out.mkdir(parents=True, exist_ok=True)
    students = discover(submissions, repo.exercise_names(), grader.out / "unpacked")
    if chosen is None:
        grader.exercises = sorted({ex for s in students for ex in s.exercises})
        if not grader.exercises:
            raise GraderError(
                f"no submission under {submissions} holds a known exercise folder "
                f"({', '.join(repo.exercise_names())}); expected <student>/<exercise>/<nb>.ipynb"
            )
    return run_class(grader, students, force=force)
