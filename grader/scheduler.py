"""Grading a whole class: parallel workers, one gradebook, resumable runs.

Each worker grades whole hand-ins in a private course root (``OUT/.workers/<pid>/`` for a local
process, the worker's own folder on a Dask cluster), with its own nbgrader gradebook, so workers
never share an SQLite file or need the submissions folder: a hand-in travels to its worker as
data and its results come back as data (:mod:`grader.backends`). The main process alone writes
the class's outputs: when a hand-in is done it writes that student's autograded notebooks and
feedback into ``OUT``, records the scores in
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
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, replace
from pathlib import Path, PurePosixPath
from typing import Any

from nbgrader.api import BaseCell, Gradebook, MissingEntry
from tqdm import tqdm

from grader.autograde import ClassGrader, GradingOptions
from grader.backends import (
    STUDENT_FOLDERS,
    TEMPLATE,
    DaskPool,
    InProcessPool,
    ProcessPool,
    WorkerLost,
    course_spec,
    make_job,
    write_tree,
)
from grader.course import COURSE_ID, GraderError, Repository, alembic_head
from grader.results import NotebookResult, TestResult, write_grades_csv, write_report
from grader.submissions import StudentSubmission, discover

JOURNAL = Path(".state") / "journal.jsonl"


def fingerprint(sub: StudentSubmission, exercises: list[str]) -> str:
    """Hash of everything graded for this hand-in.

    That is the staged regular files of the graded exercises (never the submissions folder:
    see :mod:`grader.submissions`) and what staging left out of the hand-in, and why.
    """
    digest = hashlib.sha256(sub.student.encode())
    digest.update((sub.problem or "").encode())
    digest.update(json.dumps(sorted(sub.left_out.items())).encode())
    for exercise in exercises:
        digest.update(f"|{exercise}|".encode())
        for relative, path in sub.files(exercise):
            digest.update(relative.encode())
            digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def _result_from_dict(data: dict) -> NotebookResult:
    tests = [TestResult(**t) for t in data.pop("tests")]
    return NotebookResult(**data, tests=tests)


def load_journal(out: Path) -> dict[str, tuple[str, list[NotebookResult], list[str]]]:
    """student -> (fingerprint, results, warnings) of hand-ins already graded into ``out``."""
    path = out / JOURNAL
    done: dict[str, tuple[str, list[NotebookResult], list[str]]] = {}
    if not path.exists():
        return done
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            entry = json.loads(line)
            results = [_result_from_dict(r) for r in entry["results"]]
            notes = [str(w) for w in entry.get("warnings", [])]
        except (ValueError, KeyError, TypeError):
            continue  # a line cut off by an interruption: that hand-in is graded again
        done[entry["student"]] = (entry["fingerprint"], results, notes)
    return done


def _append_journal(
    out: Path, student: str, digest: str, results: list[NotebookResult], notes: list[str]
) -> None:
    path = out / JOURNAL
    path.parent.mkdir(parents=True, exist_ok=True)
    entry = {"student": student, "fingerprint": digest, "results": [asdict(r) for r in results]}
    line = json.dumps({**entry, "warnings": notes})
    with open(path, "ab+") as fh:
        # A line cut off by an interrupted run must not swallow the next entry.
        if fh.seek(0, os.SEEK_END) > 0:
            fh.seek(-1, os.SEEK_END)
            if fh.read(1) != b"\n":
                fh.write(b"\n")
        fh.write(line.encode("utf-8") + b"\n")
        fh.flush()
        os.fsync(fh.fileno())


def _write_student_files(out: Path, student: str, files: dict[str, bytes]) -> None:
    """Replace this student's graded notebooks and feedback in ``out`` with ``files``."""
    for folder in STUDENT_FOLDERS:
        shutil.rmtree(out / folder / student, ignore_errors=True)
    for path in files:
        parts = PurePosixPath(path).parts
        if len(parts) < 3 or parts[0] not in STUDENT_FOLDERS or parts[1] != student:
            raise GraderError(f"a worker sent back {path!r}, outside {student}'s folders")
    write_tree(out, files)


def _crashed(
    sub: StudentSubmission, exercises: list[str], max_scores: dict[str, dict[str, float]], why: str
) -> list[NotebookResult]:
    return [
        NotebookResult(sub.student, exercise, notebook, 0.0, max_score, "crashed", why)
        for exercise in exercises
        for notebook, max_score in sorted(max_scores[exercise].items())
    ]


@contextmanager
def _one_transaction(gb: Gradebook) -> Iterator[None]:
    """Make everything ``gb`` writes inside the block one transaction, committed at its end.

    nbgrader commits after each step (the student, removing the old submission, adding the new
    one), so a run stopped between two of them would leave the student without a submission;
    each commit also waits for the disk. Inside the block its commits only flush; the block
    commits once, or rolls everything back if it raises.
    """
    session = gb.db
    session.commit = session.flush  # an instance attribute: hides scoped_session.commit
    try:
        yield
    except BaseException:
        del session.commit
        session.rollback()
        raise
    del session.commit
    session.commit()


def record_in_gradebook(gb: Gradebook, results: list[NotebookResult], keep_manual: bool) -> None:
    """Write one hand-in's scores into the class gradebook ``gb`` (replacing earlier ones), in
    one transaction: on an error nothing of this hand-in is written, and ``gb`` stays usable.

    Written answers the autograder cannot score stay marked "needs manual grade" for Formgrader.
    With ``keep_manual`` (the same work graded again), scores, extra credit and comments an
    instructor entered by hand are kept; a changed hand-in starts without them.
    """
    with _one_transaction(gb):
        student = results[0].student
        gb.update_or_create_student(student)
        # A grade's or comment's ``name`` is its cell's, loaded one query per grade: read them
        # all at once instead (a third of the time spent here, per graded notebook).
        cell_names = dict(gb.db.query(BaseCell.id, BaseCell.name))
        for exercise in sorted({r.exercise for r in results}):
            kept: dict[tuple[str, str, str], object] = {}
            try:
                old = gb.find_submission(exercise, student)
                if keep_manual:
                    for nb in old.notebooks:
                        for grade in nb.grades:
                            if grade.manual_score is not None or grade.extra_credit:
                                kept[("grade", nb.name, cell_names[grade.cell_id])] = (
                                    grade.manual_score,
                                    grade.extra_credit,
                                )
                        for comment in nb.comments:
                            if comment.manual_comment:
                                name = cell_names[comment.cell_id]
                                kept[("comment", nb.name, name)] = comment.manual_comment
                gb.remove_submission(exercise, student)
            except MissingEntry:
                pass
            submission = gb.add_submission(exercise, student)
            notebooks = {nb.name: nb for nb in submission.notebooks}
            for r in (r for r in results if r.exercise == exercise):
                tests = {test.grade_id: test for test in r.tests}
                notebook = notebooks.get(r.notebook)
                for grade in notebook.grades if notebook is not None else []:
                    test = tests.get(cell_names[grade.cell_id])
                    if test is not None and test.needs_manual:
                        grade.auto_score, grade.needs_manual_grade = None, True
                    else:
                        grade.auto_score = test.score if test is not None else 0.0
                        grade.needs_manual_grade = False
                    manual = kept.get(("grade", r.notebook, cell_names[grade.cell_id]))
                    if manual is not None:
                        grade.manual_score, grade.extra_credit = manual
                        grade.needs_manual_grade = False
                for comment in notebook.comments if notebook is not None else []:
                    text = kept.get(("comment", r.notebook, cell_names[comment.cell_id]))
                    if text is not None:
                        comment.manual_comment = text


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

    def note(self, line: str) -> None:
        """Something the instructor should see now (a worker died...), not kept in OUT."""
        if self.bar is not None:
            self.bar.write(line, file=sys.stderr)
        else:
            print(line, file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def prepare_class(grader: ClassGrader, local: bool) -> dict[str, dict[str, float]]:
    """Record the exercises in OUT's gradebook; for local workers also in a template they copy.

    nbgrader's generate step runs once into ``OUT/.workers/prepared`` (removed after the run);
    a new OUT gets a copy of it, and so does each local worker (its own scratch course root).
    Workers of a cluster prepare for themselves, from the sources they are sent.
    """
    if not local:
        return grader.prepare()
    template = ClassGrader(grader.repo, grader.out / ".workers" / TEMPLATE, grader.exercises,
                           grader.options)
    template.log_file = grader.log_file
    shutil.rmtree(template.out, ignore_errors=True)
    max_scores = template.prepare()
    if (grader.out / "gradebook.db").exists():
        return grader.prepare()  # a class gradebook already: add to it, keep what it holds
    grader.prepare_from(template.out)
    return max_scores


def run_class(
    grader: ClassGrader,
    students: list[StudentSubmission],
    force: bool = False,
    scheduler: str | None = None,
    allow_unsandboxed: bool = False,
    connect_timeout: float = 10.0,
) -> list[NotebookResult]:
    """Grade every hand-in, write grades.csv, report.json and the gradebook.

    Hand-ins are graded in this process (one worker), in a local process pool, or on the Dask
    cluster whose scheduler listens at ``scheduler``; the output is the same either way.
    """
    out, options = grader.out, grader.options
    local = scheduler is None
    # Local workers copy what prepare_class writes, so it comes first; a cluster's workers
    # prepare for themselves, so there the first hand-ins are on their way before it runs.
    max_scores = prepare_class(grader, local=True) if local else {}
    db_url = grader.config.CourseDirectory.db_url
    journal = load_journal(out)  # with force: only to tell an unchanged hand-in
    if force and (out / JOURNAL).exists():
        (out / JOURNAL).unlink()
    results: dict[str, list[NotebookResult]] = {}
    warnings: dict[str, list[str]] = {}
    todo: list[tuple[StudentSubmission, str]] = []
    for sub in students:
        digest = fingerprint(sub, grader.exercises)
        previous = journal.get(sub.student)
        if not force and previous and previous[0] == digest:
            results[sub.student], warnings[sub.student] = previous[1], previous[2]
        else:
            todo.append((sub, digest))

    spec = course_spec(
        grader.repo,
        grader.exercises,
        replace(options, progress=False),
        out,
        alembic_head(),
        cluster=scheduler is not None,
        allow_unsandboxed=allow_unsandboxed,
    )
    if scheduler is not None:
        pool = DaskPool(scheduler, spec, timeout=connect_timeout)
        isolation = pool.isolation
    else:
        isolation = grader.isolation
        if isolation.startswith("WARNING"):
            print(isolation, file=sys.stderr, flush=True)
        workers = max(1, min(options.workers, len(todo)))
        pool = InProcessPool(spec) if workers == 1 else ProcessPool(spec, workers)
    if len(results) and options.progress:
        print(
            f"{len(results)} hand-in(s) already graded; grading {len(todo)} (use --force to "
            "regrade all)",
            file=sys.stderr,
            flush=True,
        )

    gradebook: Gradebook | None = None

    def finish(
        sub: StudentSubmission,
        digest: str,
        graded: list[NotebookResult],
        files: dict[str, bytes],
        notes: list[str],
    ) -> None:
        nonlocal gradebook
        _write_student_files(out, sub.student, files)
        previous = journal.get(sub.student)
        if gradebook is None:  # opened once a run: opening checks every table and the course
            gradebook = Gradebook(db_url, COURSE_ID)
        record_in_gradebook(gradebook, graded, keep_manual=bool(previous and previous[0] == digest))
        _append_journal(out, sub.student, digest, graded, notes)
        results[sub.student], warnings[sub.student] = graded, notes
        progress.update(sub.student, graded)

    progress = Progress(len(students), len(results), options.progress)
    queue = iter(todo)
    pending: dict[Any, tuple[StudentSubmission, str, int]] = {}
    submitted = 0

    def send() -> None:
        """Keep ``pool.capacity`` hand-ins on their way to the workers."""
        nonlocal submitted
        while len(pending) < pool.capacity:
            item = next(queue, None)
            if item is None:
                return
            submitted += 1
            # A worker boots its next kernel while it grades. A local worker ends with the
            # run, so not for the last hand-ins, where that kernel would never be used; a
            # cluster worker stays, and its spare is ready for the next run's first hand-in.
            spare = not local or len(todo) - submitted >= pool.workers
            job = make_job(item[0], grader.exercises, spare=spare)
            pending[pool.submit(job)] = (*item, 1)

    try:
        if not local:
            send()
            max_scores.update(prepare_class(grader, local=False))
        while True:
            send()
            if not pending:
                break
            for handle in pool.wait_any(pending):
                sub, digest, attempt = pending.pop(handle)
                try:
                    payload = pool.result(handle)
                except WorkerLost as exc:
                    progress.note(
                        f"{sub.student}: {exc}; "
                        + ("grading it again" if attempt < 2 else "giving up")
                    )
                    if attempt < 2:  # once more, on another worker
                        pending[pool.submit(make_job(sub, grader.exercises, spare=False))] = (
                            sub,
                            digest,
                            attempt + 1,
                        )
                        continue
                    why = f"grading failed twice: {exc}"
                    finish(sub, digest, _crashed(sub, grader.exercises, max_scores, why), {}, [])
                    continue
                if "refused" in payload:
                    raise GraderError(f"a worker refused to grade: {payload['refused']}")
                if "error" in payload:
                    error = payload["error"].strip().splitlines()[-1][:300]
                    graded = _crashed(sub, grader.exercises, max_scores, f"grading failed: {error}")
                    note = f"{sub.student}: grading failed:\n{payload['error']}"
                    finish(sub, digest, graded, {}, [note])
                    continue
                graded = [_result_from_dict(r) for r in payload["results"]]
                finish(sub, digest, graded, payload["files"], payload["warnings"])
    finally:
        progress.close()
        pool.close()
        if gradebook is not None:
            gradebook.close()
        shutil.rmtree(out / ".workers", ignore_errors=True)
    ordered = [r for student in sorted(results) for r in results[student]]
    notes = [isolation] if isolation.startswith("WARNING") else []
    notes += [w for student in sorted(warnings) for w in warnings[student]]
    write_grades_csv(ordered, out / "grades.csv")
    write_report(ordered, notes, out / "report.json", isolation)
    return ordered


def autograde(
    repo: Repository,
    submissions: Path,
    out: Path,
    exercises: list[str] | None,
    options: GradingOptions,
    force: bool = False,
    scheduler: str | None = None,
    allow_unsandboxed: bool = False,
    connect_timeout: float = 10.0,
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
    return run_class(
        grader, students, force=force, scheduler=scheduler, allow_unsandboxed=allow_unsandboxed,
        connect_timeout=connect_timeout,
    )
