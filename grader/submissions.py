"""Finding and unpacking a class's submissions.

Accepted layouts (nbgrader's submitted layout, or one zip per student)::

    SUBMISSIONS/<student>/<exercise>/<notebook>.ipynb
    SUBMISSIONS/<student>.zip          holding <exercise>/<notebook>.ipynb
                                        (optionally under one top-level folder)

Nothing here executes student code. Zips are unpacked defensively: no absolute paths, no ``..``,
no links, bounded size.
"""

from __future__ import annotations

import shutil
import stat
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from grader.course import SAFE_NAME

MAX_ZIP_MEMBER_BYTES = 50 * 1024 * 1024
MAX_ZIP_TOTAL_BYTES = 200 * 1024 * 1024


@dataclass
class StudentSubmission:
    """One student's hand-in: exercise name -> folder holding that exercise's notebooks."""

    student: str
    exercises: dict[str, Path] = field(default_factory=dict)
    problem: str | None = None  # set when the hand-in as a whole could not be read


def _safe_extract(archive: Path, dest: Path) -> None:
    total = 0
    with zipfile.ZipFile(archive) as zf:
        for info in zf.infolist():
            name = PurePosixPath(info.filename)
            if info.is_dir():
                continue
            if name.is_absolute() or ".." in name.parts or not name.parts:
                raise ValueError(f"unsafe path in zip: {info.filename!r}")
            if stat.S_ISLNK(info.external_attr >> 16):
                raise ValueError(f"links are not accepted in zips: {info.filename!r}")
            if info.file_size > MAX_ZIP_MEMBER_BYTES:
                raise ValueError(f"{info.filename!r} is larger than {MAX_ZIP_MEMBER_BYTES} bytes")
            total += info.file_size
            if total > MAX_ZIP_TOTAL_BYTES:
                raise ValueError(f"zip unpacks to more than {MAX_ZIP_TOTAL_BYTES} bytes")
            target = dest.joinpath(*name.parts)
            target.parent.mkdir(parents=True, exist_ok=True)
            with zf.open(info) as src, open(target, "wb") as out:
                shutil.copyfileobj(src, out)


def _exercise_folders(root: Path, known: set[str]) -> dict[str, Path]:
    """Exercise folders directly under ``root``, or under its single top-level folder."""
    found = {p.name: p for p in root.iterdir() if p.is_dir() and p.name in known}
    if not found:
        children = [p for p in root.iterdir() if p.is_dir() and not p.name.startswith(("_", "."))]
        if len(children) == 1:
            found = {p.name: p for p in children[0].iterdir() if p.is_dir() and p.name in known}
    return found


def discover(
    submissions: Path, known_exercises: list[str], staging: Path
) -> list[StudentSubmission]:
    """List every student's submission, unpacking zips into ``staging``."""
    if not submissions.is_dir():
        raise FileNotFoundError(f"submissions folder {submissions} does not exist")
    known = set(known_exercises)
    result: dict[str, StudentSubmission] = {}
    for entry in sorted(submissions.iterdir()):
        if entry.name.startswith("."):
            continue
        if entry.is_dir():
            student = entry.name
            root = entry
        elif entry.suffix == ".zip":
            student = entry.stem
            root = staging / student
        else:
            continue
        sub = StudentSubmission(student)
        if not SAFE_NAME.match(student):
            sub.problem = (
                f"student name {student!r} is not a plain name (letters, digits, '_', '-', '.')"
            )
        elif student in result:
            sub.problem = f"{student} handed in both a folder and a zip; grade one of them"
        elif entry.is_file():
            if root.exists():
                shutil.rmtree(root)
            root.mkdir(parents=True)
            try:
                _safe_extract(entry, root)
            except (zipfile.BadZipFile, ValueError, OSError) as exc:
                sub.problem = f"could not unpack {entry.name}: {exc}"
        if sub.problem is None:
            sub.exercises = _exercise_folders(root, known)
        result[student] = sub
    return [result[k] for k in sorted(result)]
