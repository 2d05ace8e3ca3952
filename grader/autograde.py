"""``i2dl-grader autograde``: grade a class of submissions with nbgrader.

Layout of the output folder (it is also nbgrader's course root for the run)::

    OUT/grades.csv        one row per student, exercise and notebook
    OUT/report.json       per-test-cell detail, reasons, warnings
    OUT/gradebook.db      nbgrader's gradebook
    OUT/feedback/<student>/<exercise>/<notebook>.html
    OUT/submitted/, OUT/autograded/, OUT/release/, OUT/logs/   working folders

Every submission is graded on its own: an unreadable notebook, a crash or a grading error is
recorded for that notebook (typed status, zero score, a reason) and grading moves on.
"""

from __future__ import annotations

import logging
import os
import shutil
import stat
import time
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from nbformat import NotebookNode
from nbgrader.api import Gradebook, MissingEntry
from nbgrader.converters import Autograde
from nbgrader.nbgraderformat import MetadataValidator

from grader.course import (
    COURSE_ID,
    Repository,
    make_coursedir,
    nbgrader_config,
    quiet_nbgrader,
)
from grader.execute import OUTCOMES
from grader.feedback import write_feedback
from grader.integrity import clean_submission, describe_test_cell_changes
from grader.kernels import NOT_COPIED, copy_extra_files
from grader.release import generate_release
from grader.results import NotebookResult, TestResult
from grader.sandbox import Limits, describe
from grader.submissions import StudentSubmission
from i2dl.budgets import CELL_SECONDS, NOTEBOOK_SECONDS


@dataclass
class GradingOptions:
    cell_timeout: int = CELL_SECONDS
    notebook_timeout: int = NOTEBOOK_SECONDS
    limits: Limits = field(default_factory=Limits)  # cpu_seconds: from notebook_timeout
    workers: int = 1
    progress: bool = True


def _describe_error(exc: Exception) -> str:
    text = str(exc).splitlines()[0][:200] if str(exc) else ""
    return f"{type(exc).__name__}: {text}"


def _read_notebook(path: Path) -> tuple[NotebookNode | None, str]:
    """The notebook at ``path`` in the current format, or None and why it cannot be graded.

    Older formats (nbformat 3 and before) are converted; the result's metadata then records the
    original version (``orig_nbformat``).
    """
    try:
        nb = nbformat.read(path, as_version=4)
        nbformat.validate(nb)
    except Exception as exc:  # invalid JSON, wrong schema, unreadable bytes...
        return None, f"not a valid notebook ({_describe_error(exc)})"
    return nb, ""


def _upgrade_grading_metadata(nb: NotebookNode) -> str:
    """Bring the nbgrader metadata of ``nb`` to the current schema (in place); "" or why not.

    Notebooks from an older nbgrader (or converted from nbformat 3) carry an older metadata
    schema, which nbgrader itself refuses to grade; this is what ``nbgrader update`` does.
    """
    validator = MetadataValidator()
    validator.log = _QUIET
    try:
        validator.upgrade_notebook_metadata(nb)
        validator.validate_nb(nb)
    except Exception as exc:  # schema too new, malformed values, missing keys...
        return f"its nbgrader cell metadata is not valid ({_describe_error(exc)})"
    return ""


# nbgrader's metadata validator logs every repaired cell; the report says what matters.
_QUIET = logging.getLogger("grader.metadata")
_QUIET.addHandler(logging.NullHandler())
_QUIET.propagate = False


def _is_regular_file(path: Path) -> bool:
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except OSError:
        return False


def _error_text(cell) -> str | None:
    for output in cell.get("outputs", []):
        if output.get("output_type") == "error":
            return f"{output.get('ename', 'Error')}: {output.get('evalue', '')}".strip()
    return None


def _test_results(
    gb: Gradebook, nb: NotebookNode | None, student: str, exercise: str, notebook: str
) -> list[TestResult]:
    errors: dict[str, str | None] = {}
    if nb is not None:
        for cell in nb.cells:
            meta = cell.metadata.get("nbgrader", {})
            if meta.get("grade") and cell.cell_type == "code":
                errors[meta["grade_id"]] = _error_text(cell)
    tests = []
    submission = gb.find_submission_notebook(notebook, exercise, student)
    for grade in sorted(submission.grades, key=lambda g: g.name):
        tests.append(
            TestResult(
                grade_id=grade.name,
                score=float(grade.score or 0.0),
                max_score=float(grade.max_score),
                error=errors.get(grade.name),
                needs_manual=bool(grade.needs_manual_grade),
            )
        )
    return tests


class ClassGrader:
    """Grades one class's submissions into one output folder."""

    def __init__(self, repo: Repository, out: Path, exercises: list[str], options: GradingOptions):
        self.repo = repo
        self.out = out.resolve()
        self.exercises = exercises
        self.options = options
        self.log_file = self.out / "logs" / "nbgrader.log"
        self.config = nbgrader_config(
            self.out,
            repo.solutions,
            self.out / "release",
            cell_timeout=options.cell_timeout,
            notebook_timeout=options.notebook_timeout,
            limits=options.limits,
        )
        isolation = describe()
        self.warnings: list[str] = [isolation] if isolation.startswith("WARNING") else []
        self.isolation = isolation

    def prepare(self) -> dict[str, dict[str, float]]:
        """Release every exercise into the run's gradebook; return notebook -> max score."""
        self.out.mkdir(parents=True, exist_ok=True)
        for exercise in self.exercises:
            generate_release(self.repo, exercise, self.out, self.out / "release")
        return self.max_scores()

    def prepare_from(self, template: Path) -> dict[str, dict[str, float]]:
        """As :meth:`prepare`, by copying a course root ``template`` prepared for the same
        exercises (nbgrader's generate step costs half a second per exercise)."""
        self.out.mkdir(parents=True, exist_ok=True)
        for exercise in self.exercises:
            target = self.out / "release" / exercise
            shutil.rmtree(target, ignore_errors=True)
            shutil.copytree(template / "release" / exercise, target)
        shutil.copyfile(template / "gradebook.db", self.out / "gradebook.db")
        return self.max_scores()

    def max_scores(self) -> dict[str, dict[str, float]]:
        """exercise -> notebook -> max score, from the gradebook."""
        max_scores: dict[str, dict[str, float]] = {}
        with Gradebook(self.config.CourseDirectory.db_url, COURSE_ID) as gb:
            for exercise in self.exercises:
                assignment = gb.find_assignment(exercise)
                max_scores[exercise] = {nb.name: float(nb.max_score) for nb in assignment.notebooks}
        return max_scores

    def grade_notebook(
        self, student: str, exercise: str, notebook: str, submitted: Path
    ) -> NotebookResult:
        """Autograde one valid notebook that is already in ``submitted/``."""
        coursedir = make_coursedir(self.config)
        coursedir.student_id = student
        coursedir.assignment_id = exercise
        coursedir.notebook_id = notebook
        start = time.perf_counter()
        key = (student, exercise, notebook)
        crash = None
        # A kernel that never came up (a busy machine) is not the student's fault: try again.
        for _attempt in range(2):
            OUTCOMES.pop(key, None)
            converter = Autograde(
                coursedir=coursedir, config=self.config, log=quiet_nbgrader(self.log_file)
            )
            converter.force = True
            try:
                converter.start()
                crash = None
            except Exception as exc:  # nbgrader raises after logging; grading itself failed
                crash = f"autograding failed: {exc}".splitlines()[0][:300]
            if crash is None or key in OUTCOMES:
                break
        seconds = time.perf_counter() - start
        autograded = self.out / "autograded" / student / exercise / f"{notebook}.ipynb"
        outcome = OUTCOMES.get(key, {"status": "crashed", "reason": "the notebook was not run"})
        status, reason = outcome["status"], outcome["reason"]
        graded = nbformat.read(autograded, as_version=4) if autograded.exists() else None
        if crash or graded is None:
            status, reason = "crashed", crash or "nbgrader produced no autograded notebook"
        with Gradebook(self.config.CourseDirectory.db_url, COURSE_ID) as gb:
            max_score = float(gb.find_notebook(notebook, exercise).max_score)
            try:
                # Credit earned before a crash, timeout or memory failure is kept.
                tests = _test_results(gb, graded, student, exercise, notebook)
                score = sum(t.score for t in tests) if graded is not None else 0.0
            except MissingEntry:
                tests, score = [], 0.0
        result = NotebookResult(
            student, exercise, notebook, score, max_score, status, reason, round(seconds, 2), tests
        )
        if graded is not None:
            self._write_feedback(graded, result)
        return result

    def grade_student(
        self,
        student: str,
        folders: dict[str, Path],
        max_scores: dict[str, dict[str, float]],
        left_out: dict[str, str] | None = None,
    ) -> list[NotebookResult]:
        """Grade one staged hand-in (``left_out``: what staging left out of it, and why)."""
        hand_in = StudentSubmission(student, folders, left_out=left_out or {})
        results = []
        for exercise in self.exercises:
            notebooks = max_scores[exercise]
            folder = folders.get(exercise)
            submitted_dir = self.out / "submitted" / student / exercise
            if submitted_dir.exists():
                shutil.rmtree(submitted_dir)
            to_grade = []
            for notebook, max_score in sorted(notebooks.items()):
                where = f"{exercise}/{notebook}.ipynb"
                path = folder / f"{notebook}.ipynb" if folder else None
                if path is None or not _is_regular_file(path):
                    instead = hand_in.left_out_instead(exercise, notebook)
                    status, reason = (
                        (
                            "invalid",
                            f"{where} was not graded: {instead}; a hand-in is graded only from "
                            "its own regular files",
                        )
                        if instead
                        else ("missing", f"no {where} in the submission")
                    )
                    results.append(
                        NotebookResult(student, exercise, notebook, 0.0, max_score, status, reason)
                    )
                    continue
                handed_in, problem = _read_notebook(path)
                if handed_in is not None:
                    released = nbformat.read(
                        self.out / "release" / exercise / f"{notebook}.ipynb", as_version=4
                    )
                    changes = describe_test_cell_changes(released, handed_in)
                    cleaned = clean_submission(released, handed_in)
                    problem = _upgrade_grading_metadata(cleaned)
                if handed_in is None or problem:
                    results.append(
                        NotebookResult(
                            student, exercise, notebook, 0.0, max_score, "invalid", problem
                        )
                    )
                    continue
                original = handed_in.metadata.get("orig_nbformat")
                if original is not None:
                    self.warnings.append(
                        f"{student}/{where}: converted from nbformat {original} to 4"
                    )
                submitted_dir.mkdir(parents=True, exist_ok=True)
                nbformat.write(cleaned, submitted_dir / path.name)
                to_grade.append((notebook, changes))
            if to_grade and folder is not None:
                # data files and helper modules handed in next to the notebooks
                for what in copy_extra_files(folder, submitted_dir, NOT_COPIED):
                    self.warnings.append(f"{student}/{exercise}: left out {what}")
            for notebook, changes in to_grade:
                result = self.grade_notebook(student, exercise, notebook, submitted_dir)
                result.cell_changes = changes
                results.append(result)
        return results

    def _write_feedback(self, nb: NotebookNode, result: NotebookResult) -> None:
        ids = (result.student, result.exercise, f"{result.notebook}.ipynb")
        target = self.out.joinpath("feedback", *ids).with_suffix(".html")
        try:
            write_feedback(nb, result, target)
        except Exception as exc:  # feedback is a courtesy; never lose the grade over it
            self.warnings.append(f"feedback for {'/'.join(ids)} failed: {exc}")

    def grade_submission(
        self, sub: StudentSubmission, max_scores: dict[str, dict[str, float]]
    ) -> list[NotebookResult]:
        """All notebooks of one student's hand-in (an unreadable hand-in scores zero)."""
        self.warnings.extend(sub.notes())
        if sub.problem is None:
            return self.grade_student(sub.student, sub.exercises, max_scores, sub.left_out)
        return [
            NotebookResult(sub.student, exercise, notebook, 0.0, max_score, "invalid", sub.problem)
            for exercise in self.exercises
            for notebook, max_score in sorted(max_scores[exercise].items())
        ]
