"""LMS import files from the class gradebook: Canvas, Moodle or a plain CSV.

Scores are read from ``OUT/gradebook.db`` through nbgrader's Gradebook API, so that scores an
instructor set in Formgrader count: nbgrader's ``Grade.score`` is the manual score where one was
set, else the autograder's, plus any extra credit (``nbgrader/api.py``). An exercise's score is
the sum over its notebooks (``SubmittedAssignment.score``) less a late penalty where nbgrader
assigned one; a student who handed in nothing for an exercise gets 0, as in nbgrader's own CSV
export, so that the LMS shows a zero rather than a missing grade.

One row per student, one column per exercise graded into ``OUT``:

- ``csv``: ``student,<ex1>,<ex2>,...,total``;
- ``canvas``: Canvas's gradebook import format (the layout of its own gradebook export):
  ``Student,ID,SIS User ID,SIS Login ID,Section``, then one column per exercise, named
  ``<exercise> (<Canvas assignment id>)`` when the id is given (``--assignment-id EX=ID``) and
  ``<exercise>`` otherwise (Canvas then creates the assignment), and a second row
  ``Points Possible`` with each exercise's maximum. Canvas matches a row by ``ID`` (its numeric
  user id), then ``SIS User ID``, then ``SIS Login ID``, then the name;
- ``moodle``: ``ID number,Username,Email address``, then one column per exercise; in Moodle's
  "Import grades: CSV file" map *from* one identifier column *to* the user field of that name,
  and each exercise column to a grade item.

Student ids are the submission folder names. A roster CSV (``--roster``) fills the other
identifier columns: ``student`` (the folder name, required), ``name``, ``email``, ``canvas_id``,
``sis_id``, ``login``, ``section``. Without a roster (or where a cell is empty) ``Student``
is the folder name, and so are ``SIS Login ID`` and ``Username``. Students in the roster who
handed in nothing get a row of zeros; hand-ins not in the roster are exported with their folder
names and reported.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from pathlib import Path

from nbgrader.api import Gradebook, MissingEntry

from grader.course import COURSE_ID, GraderError
from grader.results import format_score

FORMATS = ("canvas", "moodle", "csv")
ROSTER_COLUMNS = ("student", "name", "email", "canvas_id", "sis_id", "login", "section")
CANVAS_HEADER = ("Student", "ID", "SIS User ID", "SIS Login ID", "Section")
MOODLE_HEADER = ("ID number", "Username", "Email address")


@dataclass(frozen=True)
class RosterEntry:
    student: str
    name: str = ""
    email: str = ""
    canvas_id: str = ""
    sis_id: str = ""
    login: str = ""
    section: str = ""


@dataclass
class ClassScores:
    """Scores per student and exercise as the gradebook holds them (manual scores included)."""

    exercises: list[str]
    max_scores: dict[str, float]
    scores: dict[str, dict[str, float]] = field(default_factory=dict)  # student -> ex -> score


@dataclass
class Export:
    path: Path
    rows: int
    not_in_roster: list[str]


def read_scores(out: Path) -> ClassScores:
    """Every student's score per exercise from ``out/gradebook.db``."""
    db = out / "gradebook.db"
    if not db.is_file():
        raise GraderError(
            f"no gradebook at {db}: grade the class first with "
            f"`i2dl-grader autograde SUBMISSIONS --out {out}`"
        )
    with Gradebook(f"sqlite:///{db.resolve()}", COURSE_ID) as gb:
        assignments = sorted(gb.assignments, key=lambda a: a.name)
        result = ClassScores(
            exercises=[a.name for a in assignments],
            max_scores={a.name: float(a.max_score) for a in assignments},
        )
        for student in sorted(gb.students, key=lambda s: s.id):
            row: dict[str, float] = {}
            for assignment in assignments:
                try:
                    submission = gb.find_submission(assignment.name, student.id)
                except MissingEntry:
                    row[assignment.name] = 0.0
                    continue
                penalty = submission.late_submission_penalty or 0.0
                row[assignment.name] = max(0.0, float(submission.score) - float(penalty))
            result.scores[student.id] = row
    return result


def read_roster(path: Path) -> list[RosterEntry]:
    """The roster CSV: a header with ``student`` and any of the other ROSTER_COLUMNS."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            header = [h.strip() for h in reader.fieldnames or []]
            rows = list(reader)
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise GraderError(f"cannot read the roster {path}: {exc}") from exc
    unknown = [h for h in header if h not in ROSTER_COLUMNS]
    if "student" not in header or unknown:
        raise GraderError(
            f"roster {path}: expected a header row with the column 'student' (the submission "
            f"folder name) and any of {', '.join(ROSTER_COLUMNS[1:])}; found "
            f"{', '.join(header) or 'no header'}"
            + (f" (unknown: {', '.join(unknown)})" if unknown else "")
        )
    entries: list[RosterEntry] = []
    seen: set[str] = set()
    for number, row in enumerate(rows, start=2):
        values = {k.strip(): (v or "").strip() for k, v in row.items() if k is not None}
        student = values.get("student", "")
        if not student:
            raise GraderError(f"roster {path}, line {number}: the 'student' column is empty")
        if student in seen:
            raise GraderError(f"roster {path}, line {number}: student {student!r} listed twice")
        seen.add(student)
        entries.append(RosterEntry(**{k: values.get(k, "") for k in ROSTER_COLUMNS}))
    return entries


def parse_assignment_ids(pairs: list[str], exercises: list[str]) -> dict[str, str]:
    """``EX=ID`` options as exercise -> Canvas assignment id."""
    ids: dict[str, str] = {}
    for pair in pairs:
        exercise, _, number = pair.partition("=")
        if not re.fullmatch(r"\d+", number.strip()):
            raise GraderError(
                f"--assignment-id {pair!r}: expected EX=ID with the Canvas assignment's number "
                "(the last part of its URL), e.g. ex01_linear_regression=123456"
            )
        if exercise.strip() not in exercises:
            raise GraderError(
                f"--assignment-id {pair!r}: {exercise.strip()!r} is not graded in this folder; "
                f"graded: {', '.join(exercises) or 'none'}"
            )
        ids[exercise.strip()] = number.strip()
    return ids


def _rows(scores: ClassScores, roster: list[RosterEntry] | None) -> tuple[list, list[str]]:
    """(roster entry, scores) per student in export order, and hand-ins not in the roster."""
    zeros = dict.fromkeys(scores.exercises, 0.0)
    if roster is None:
        return [(RosterEntry(s), scores.scores[s]) for s in sorted(scores.scores)], []
    listed = {entry.student for entry in roster}
    extra = sorted(s for s in scores.scores if s not in listed)
    rows = [(entry, scores.scores.get(entry.student, zeros)) for entry in roster]
    return rows + [(RosterEntry(s), scores.scores[s]) for s in extra], extra


def export_table(
    scores: ClassScores,
    fmt: str,
    roster: list[RosterEntry] | None = None,
    assignment_ids: dict[str, str] | None = None,
) -> tuple[list[list[str]], list[str]]:
    """The rows of the export file (header first) and the hand-ins not in the roster."""
    if fmt not in FORMATS:
        raise GraderError(f"unknown export format {fmt!r}; expected one of {', '.join(FORMATS)}")
    rows, extra = _rows(scores, roster)
    exercises = scores.exercises
    values = [[format_score(marks[ex]) for ex in exercises] for _, marks in rows]
    if fmt == "csv":
        table = [["student", *exercises, "total"]]
        for (entry, marks), cells in zip(rows, values, strict=True):
            table.append([entry.student, *cells, format_score(sum(marks.values()))])
        return table, extra
    if fmt == "moodle":
        table = [[*MOODLE_HEADER, *exercises]]
        for (entry, _), cells in zip(rows, values, strict=True):
            table.append([entry.sis_id, entry.login or entry.student, entry.email, *cells])
        return table, extra
    ids = assignment_ids or {}
    columns = [f"{ex} ({ids[ex]})" if ex in ids else ex for ex in exercises]
    points = [format_score(scores.max_scores[ex]) for ex in exercises]
    table = [[*CANVAS_HEADER, *columns], ["Points Possible", "", "", "", "", *points]]
    for (entry, _), cells in zip(rows, values, strict=True):
        table.append(
            [
                entry.name or entry.student,
                entry.canvas_id,
                entry.sis_id,
                entry.login or entry.student,
                entry.section,
                *cells,
            ]
        )
    return table, extra


def default_output(out: Path, fmt: str) -> Path:
    return out / f"export-{fmt}.csv"


def export(
    out: Path,
    fmt: str,
    output: Path | None = None,
    roster_file: Path | None = None,
    assignment_ids: list[str] | None = None,
) -> Export:
    """Write the export of ``out``'s gradebook in format ``fmt``; see the module docstring."""
    if assignment_ids and fmt != "canvas":
        raise GraderError("--assignment-id names Canvas assignments: use it with --format canvas")
    scores = read_scores(out)
    roster = read_roster(roster_file) if roster_file is not None else None
    ids = parse_assignment_ids(assignment_ids or [], scores.exercises)
    table, extra = export_table(scores, fmt, roster, ids)
    path = output if output is not None else default_output(out, fmt)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows(table)
    return Export(path, len(table) - (2 if fmt == "canvas" else 1), extra)
