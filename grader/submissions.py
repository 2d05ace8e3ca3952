"""Finding a class's hand-ins and staging them for grading.

Accepted layouts (nbgrader's submitted layout, or one zip per student)::

    SUBMISSIONS/<student>/<exercise>/<notebook>.ipynb
    SUBMISSIONS/<student>.zip          holding <exercise>/<notebook>.ipynb
                                        (optionally under one top-level folder)

Every hand-in, folder or zip, is *staged* first: its regular files are copied into
``OUT/unpacked/<student>/``, and everything after that (grading, the files next to a notebook that
reach the student's kernel, the fingerprint of a resumed run) reads only that copy, never the
submissions folder. A hand-in is graded only from its own regular files:

- a symbolic link anywhere in it (the student's folder or zip, an exercise folder, a notebook, a
  file next to it, anything in a sub-folder, a link stored in a zip) is never followed: it is left
  out and reported;
- a hard link whose file also has a name *outside* the student's hand-in (``st_nlink`` larger
  than the number of names found inside it) is left out too: its bytes belong to somebody else's
  file, such as the instructor's solution or another student's notebook. Hard links between two
  names inside the same hand-in are plain copies of each other and are staged;
- devices, pipes and sockets are left out.

Folders are read through directory descriptors opened with ``O_NOFOLLOW``, and every file is
opened with ``O_NOFOLLOW`` and checked to be the very file that was listed, so a link swapped in
while a hand-in is being read is not followed either.

Reading a hand-in costs a bounded amount of work: at most :data:`MAX_ENTRIES` entries are looked
at, at most :data:`MAX_FILES` files and :data:`MAX_BYTES` bytes are copied, and folders deeper
than :data:`MAX_DEPTH` are not entered. Notebooks are kept first, then files inside exercise
folders, then the shallowest files. Everything left out is recorded with the reason
(:attr:`StudentSubmission.left_out`) and reported. Nothing here executes student code.
"""

from __future__ import annotations

import itertools
import os
import shutil
import stat
import struct
import zipfile
import zlib
from collections import Counter, deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, NamedTuple

from grader.course import SAFE_NAME

# At most this many regular files of one hand-in are staged ...
MAX_FILES = 200
# ... holding at most this many bytes together ...
MAX_BYTES = 200 * 1024**2
# ... from folders at most this many levels below the hand-in's root.
MAX_DEPTH = 8
# At most this many entries (files, folders, links; members of a zip) of a hand-in are looked at.
MAX_ENTRIES = 50_000
# A zip whose table of contents is larger than this is refused before it is read (parsing it
# would take seconds: that many members are no hand-in).
MAX_ZIP_DIRECTORY_BYTES = 16 * 1024**2
# Report lines naming left-out entries one by one, per hand-in (the rest are counted).
MAX_LISTED = 20
# Editor, operating-system and version-control debris: skipped without a word.
IGNORED = (".ipynb_checkpoints", "__pycache__", "__MACOSX", ".git", ".DS_Store")

BEYOND_MAX_FILES = f"file beyond the first {MAX_FILES} of the hand-in"
BEYOND_MAX_BYTES = f"file beyond the {MAX_BYTES // 1024**2} MiB a hand-in may hold"
TOO_DEEP = f"folder more than {MAX_DEPTH} levels deep"
NOT_READ = f"folder not read completely: the hand-in has more than {MAX_ENTRIES} entries"
SPECIAL = "special file (device, pipe or socket)"
CHANGED = "file that changed while it was being copied"

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
# O_NONBLOCK: opening a pipe swapped in after the listing must not wait for a writer.
_FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC


@dataclass
class StudentSubmission:
    """One student's hand-in: exercise name -> staged folder holding that exercise's notebooks."""

    student: str
    exercises: dict[str, Path] = field(default_factory=dict)
    problem: str | None = None  # set when the hand-in as a whole could not be read
    left_out: dict[str, str] = field(default_factory=dict)  # path in the hand-in -> what it is

    def notes(self) -> list[str]:
        """Report lines: what of this hand-in was left out, and why."""
        listed = [(p, w) for p, w in sorted(self.left_out.items()) if w != BEYOND_MAX_FILES]
        lines = [f"{self.student}: left out {p}: {what}" for p, what in listed[:MAX_LISTED]]
        if len(listed) > MAX_LISTED:
            lines.append(
                f"{self.student}: left out {len(listed) - MAX_LISTED} more entries "
                "(links, special files or files over the limits)"
            )
        beyond = len(self.left_out) - len(listed)
        if beyond:
            lines.append(
                f"{self.student}: left out {beyond} files beyond the first {MAX_FILES} "
                "(notebooks and files in exercise folders are kept first)"
            )
        return lines

    def left_out_instead(self, exercise: str, notebook: str) -> str | None:
        """What was handed in where ``<exercise>/<notebook>.ipynb`` belongs but left out.

        None when nothing was left out there (the notebook is simply missing).
        """
        wanted = {(exercise, f"{notebook}.ipynb"), (exercise,)}
        for path, what in sorted(self.left_out.items()):
            parts = tuple(path.split("/"))
            if parts in wanted or (parts[0] != exercise and parts[1:] in wanted):
                return _is_a(path, what)
        if not self.exercises:
            # e.g. the student's only top-level folder is a link
            for path, what in sorted(self.left_out.items()):
                if "/" not in path and what != BEYOND_MAX_FILES:
                    return _is_a(path, what)
        return None

    def files(self, exercise: str) -> list[tuple[str, Path]]:
        """(relative path, path) of the staged regular files of one exercise, sorted."""
        folder = self.exercises.get(exercise)
        if folder is None:
            return []
        found = []
        for here, dirs, names in os.walk(folder, followlinks=False):
            dirs.sort()
            for name in names:
                path = Path(here, name)
                if stat.S_ISREG(os.lstat(path).st_mode):
                    found.append((path.relative_to(folder).as_posix(), path))
        return sorted(found)


class _File(NamedTuple):
    """A regular file found in a hand-in, not copied yet."""

    parts: tuple[str, ...]  # its path inside the hand-in
    size: int
    source: tuple[int, int] | zipfile.ZipInfo  # (st_dev, st_ino) in a folder, or a zip member
    names: int = 1  # st_nlink


def _is_a(path: str, what: str) -> str:
    return f"{path} is {'an' if what[0] in 'aeiou' else 'a'} {what}"


def _show(parts: tuple[str, ...]) -> str:
    return "/".join(parts) or "."


def _link(target: str | None) -> str:
    if target is None:
        return "symbolic link"
    return f"symbolic link to {target[:200]!r}"


def _open_folder(root_fd: int, parts: tuple[str, ...]) -> int:
    """A descriptor of the folder ``parts`` under ``root_fd``, refusing links on the way."""
    fd = os.dup(root_fd)
    try:
        for part in parts:
            inner = os.open(part, _DIR_FLAGS, dir_fd=fd)
            os.close(fd)
            fd = inner
    except BaseException:
        os.close(fd)
        raise
    return fd


def _list_folder(root_fd: int, left_out: dict[str, str]) -> list[_File]:
    """Regular files under ``root_fd``, breadth first; everything else goes to ``left_out``."""
    found: list[_File] = []
    budget = MAX_ENTRIES
    queue: deque[tuple[str, ...]] = deque([()])
    while queue:
        folder = queue.popleft()
        if budget <= 0:
            left_out[_show(folder)] = NOT_READ
            continue
        try:
            fd = _open_folder(root_fd, folder)
        except OSError as exc:
            left_out[_show(folder)] = f"folder that could not be read ({exc.strerror})"
            continue
        try:
            with os.scandir(fd) as listing:
                entries = list(itertools.islice(listing, budget + 1))
            if len(entries) > budget:
                left_out[_show(folder)] = NOT_READ
                entries = entries[:budget]
            budget -= len(entries)
            for entry in sorted(entries, key=lambda e: e.name):
                _look_at(fd, folder, entry, found, queue, left_out)
        finally:
            os.close(fd)
    return found


def _look_at(
    fd: int,
    folder: tuple[str, ...],
    entry: os.DirEntry,
    found: list[_File],
    queue: deque[tuple[str, ...]],
    left_out: dict[str, str],
) -> None:
    name = entry.name
    parts = (*folder, name)
    if name in IGNORED:
        return
    try:
        info = os.stat(name, dir_fd=fd, follow_symlinks=False)
    except OSError as exc:
        left_out[_show(parts)] = f"entry that could not be read ({exc.strerror})"
        return
    if stat.S_ISLNK(info.st_mode):
        try:
            target: str | None = os.readlink(name, dir_fd=fd)
        except OSError:
            target = None
        left_out[_show(parts)] = _link(target)
    elif stat.S_ISDIR(info.st_mode):
        if len(parts) > MAX_DEPTH:
            left_out[_show(parts)] = TOO_DEEP
        else:
            queue.append(parts)
    elif stat.S_ISREG(info.st_mode):
        found.append(_File(parts, info.st_size, (info.st_dev, info.st_ino), info.st_nlink))
    else:
        left_out[_show(parts)] = SPECIAL


def _inside_only(files: list[_File], left_out: dict[str, str]) -> list[_File]:
    """Drop files that also have a name outside the hand-in (hard links to other files)."""
    inside = Counter(f.source for f in files if f.names > 1)
    kept = []
    for f in files:
        if f.names > 1 and f.names > inside[f.source]:
            left_out[_show(f.parts)] = (
                f"hard link (the file has {f.names} names, {inside[f.source]} of them in this "
                "hand-in)"
            )
        else:
            kept.append(f)
    return kept


def _choose(files: list[_File], known: set[str], left_out: dict[str, str]) -> list[_File]:
    """The files to stage: notebooks, then exercise folders, then the shallowest, within caps."""

    def order(f: _File) -> tuple:
        folders = f.parts[:-1][:2]  # <exercise>/... or <top>/<exercise>/...
        in_exercise = any(part in known for part in folders)
        return (not f.parts[-1].endswith(".ipynb"), not in_exercise, len(f.parts), f.parts)

    chosen: list[_File] = []
    total = 0
    for f in sorted(files, key=order):
        if len(chosen) >= MAX_FILES:
            left_out[_show(f.parts)] = BEYOND_MAX_FILES
        elif total + f.size > MAX_BYTES:
            left_out[_show(f.parts)] = BEYOND_MAX_BYTES
        else:
            chosen.append(f)
            total += f.size
    return chosen


def _copy_exactly(source: BinaryIO | int, target: Path, size: int) -> bool:
    """Copy ``size`` bytes into a new file ``target``; False if the source holds another amount."""
    read = (lambda n: os.read(source, n)) if isinstance(source, int) else source.read
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target, "xb") as out:
        left = size
        while left > 0:
            chunk = read(min(left, 1024**2))
            if not chunk:
                break
            out.write(chunk)
            left -= len(chunk)
        exact = left == 0 and not read(1)
    if not exact:
        target.unlink()
    return exact


def _copy_from_folder(
    root_fd: int, files: list[_File], dest: Path, left_out: dict[str, str]
) -> None:
    folder: tuple[str, ...] | None = None
    folder_fd: int | None = None
    try:
        for f in sorted(files, key=lambda f: f.parts):
            if f.parts[:-1] != folder:
                if folder_fd is not None:
                    os.close(folder_fd)
                folder, folder_fd = f.parts[:-1], None
                try:
                    folder_fd = _open_folder(root_fd, folder)
                except OSError:
                    pass
            try:
                if folder_fd is None:
                    raise FileNotFoundError(2, "its folder changed")
                fd = os.open(f.parts[-1], _FILE_FLAGS, dir_fd=folder_fd)
            except OSError as exc:
                left_out[_show(f.parts)] = f"file that could not be read ({exc.strerror})"
                continue
            try:
                info = os.fstat(fd)
                same = stat.S_ISREG(info.st_mode) and (info.st_dev, info.st_ino) == f.source
                if not (same and _copy_exactly(fd, dest.joinpath(*f.parts), f.size)):
                    left_out[_show(f.parts)] = CHANGED
            except OSError as exc:
                left_out[_show(f.parts)] = f"file that could not be copied ({exc.strerror})"
            finally:
                os.close(fd)
    finally:
        if folder_fd is not None:
            os.close(folder_fd)


def _stage_folder(parent_fd: int, name: str, dest: Path, known: set[str]) -> dict[str, str]:
    left_out: dict[str, str] = {}
    root_fd = os.open(name, _DIR_FLAGS, dir_fd=parent_fd)
    try:
        files = _inside_only(_list_folder(root_fd, left_out), left_out)
        dest.mkdir(parents=True)
        _copy_from_folder(root_fd, _choose(files, known, left_out), dest, left_out)
    finally:
        os.close(root_fd)
    return left_out


def _zip_directory_bytes(fh: BinaryIO) -> int:
    """Size of a zip's table of contents, as its end record states it (zip64 included)."""
    end = fh.seek(0, os.SEEK_END)
    tail_start = max(0, end - (22 + 0xFFFF))
    fh.seek(tail_start)
    tail = fh.read()
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or len(tail) - at < 22:
        raise zipfile.BadZipFile("File is not a zip file")
    size = struct.unpack("<I", tail[at + 12 : at + 16])[0]
    locator = at - 20
    if size == 0xFFFFFFFF and locator >= 0 and tail[locator : locator + 4] == b"PK\x06\x07":
        record = struct.unpack("<Q", tail[locator + 8 : locator + 16])[0]
        fh.seek(record)
        zip64 = fh.read(56)
        if len(zip64) == 56 and zip64[:4] == b"PK\x06\x06":
            size = struct.unpack("<Q", zip64[40:48])[0]
    fh.seek(0)
    return size


def _zip_link_target(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> str | None:
    try:
        with zf.open(info) as fh:
            return fh.read(256).decode("utf-8", "replace")
    except (zipfile.BadZipFile, zlib.error, NotImplementedError, RuntimeError, OSError):
        return None


def _list_zip(zf: zipfile.ZipFile, left_out: dict[str, str]) -> list[_File]:
    found: list[_File] = []
    seen: set[tuple[str, ...]] = set()
    for index, info in enumerate(zf.infolist()):
        if index >= MAX_ENTRIES:
            left_out["."] = NOT_READ
            break
        if info.is_dir():  # folders are made for the files in them
            continue
        # what PurePosixPath(...).parts gives, twenty times faster for a zip of many members
        parts = tuple(part for part in info.filename.split("/") if part not in ("", "."))
        if info.filename.startswith("/") or ".." in parts or not parts:
            raise ValueError(f"unsafe path in zip: {info.filename!r}")
        if any(part in IGNORED for part in parts):
            continue
        mode = info.external_attr >> 16
        if len(parts) > MAX_DEPTH + 1:
            left_out[_show(parts[: MAX_DEPTH + 1])] = TOO_DEEP
        elif stat.S_ISLNK(mode):
            left_out[_show(parts)] = _link(_zip_link_target(zf, info))
        elif stat.S_IFMT(mode) not in (0, stat.S_IFREG):
            left_out[_show(parts)] = SPECIAL
        elif parts in seen:
            left_out[_show(parts)] = "second zip member of the same name"
        else:
            seen.add(parts)
            found.append(_File(parts, info.file_size, info))
    return found


def _stage_zip(parent_fd: int, name: str, dest: Path, known: set[str]) -> dict[str, str]:
    left_out: dict[str, str] = {}
    with os.fdopen(os.open(name, _FILE_FLAGS, dir_fd=parent_fd), "rb") as fh:
        info = os.fstat(fh.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise ValueError("it is not a regular file")
        if info.st_nlink > 1:
            raise ValueError(
                f"it is a hard link (the file has {info.st_nlink} names); hand in a copy"
            )
        directory = _zip_directory_bytes(fh)
        if directory > MAX_ZIP_DIRECTORY_BYTES:
            raise ValueError(
                f"its table of contents takes {directory} bytes (at most "
                f"{MAX_ZIP_DIRECTORY_BYTES} are read): far more files than a hand-in holds"
            )
        with zipfile.ZipFile(fh) as zf:
            chosen = _choose(_list_zip(zf, left_out), known, left_out)
            dest.mkdir(parents=True)
            for f in sorted(chosen, key=lambda f: f.parts):
                assert isinstance(f.source, zipfile.ZipInfo)
                target = dest.joinpath(*f.parts)
                try:
                    with zf.open(f.source) as member:
                        if not _copy_exactly(member, target, f.size):
                            left_out[_show(f.parts)] = CHANGED
                except (zipfile.BadZipFile, zlib.error, NotImplementedError, RuntimeError,
                        EOFError, OSError) as exc:
                    target.unlink(missing_ok=True)
                    left_out[_show(f.parts)] = f"zip member that could not be unpacked ({exc})"
    return left_out


def _exercise_folders(root: Path, known: set[str]) -> dict[str, Path]:
    """Exercise folders directly under ``root``, or under its single top-level folder."""
    found = {p.name: p for p in root.iterdir() if p.is_dir() and p.name in known}
    if not found:
        children = [p for p in root.iterdir() if p.is_dir() and not p.name.startswith(("_", "."))]
        if len(children) == 1:
            found = {p.name: p for p in children[0].iterdir() if p.is_dir() and p.name in known}
    return found


def _hand_in(fd: int, entry: os.DirEntry) -> tuple[str, str] | None:
    """(student, kind) of an entry of the submissions folder; kind: folder, zip or link."""
    if entry.is_symlink():
        try:
            to_folder = stat.S_ISDIR(os.stat(entry.name, dir_fd=fd).st_mode)
        except OSError:  # a dangling link or a loop
            to_folder = False
        if entry.name.endswith(".zip"):
            return entry.name[: -len(".zip")], "link"
        return (entry.name, "link") if to_folder else None
    if entry.is_dir(follow_symlinks=False):
        return entry.name, "folder"
    if entry.is_file(follow_symlinks=False) and entry.name.endswith(".zip"):
        return entry.name[: -len(".zip")], "zip"
    return None


def discover(
    submissions: Path, known_exercises: list[str], staging: Path
) -> list[StudentSubmission]:
    """List every student's submission, staging each one into ``staging/<student>``."""
    if not submissions.is_dir():
        raise FileNotFoundError(f"submissions folder {submissions} does not exist")
    known = set(known_exercises)
    result: dict[str, StudentSubmission] = {}
    fd = os.open(submissions, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        with os.scandir(fd) as listing:
            entries = sorted(listing, key=lambda e: e.name)
        for entry in entries:
            found = None if entry.name.startswith(".") else _hand_in(fd, entry)
            if found is None:
                continue
            student, kind = found
            sub = StudentSubmission(student)
            root = staging / student
            if not SAFE_NAME.match(student):
                sub.problem = (
                    f"student name {student!r} is not a plain name (letters, digits, '_', '-', '.')"
                )
            elif student in result:
                sub.problem = f"{student} handed in both a folder and a zip; grade one of them"
            elif kind == "link":
                try:
                    target: str | None = os.readlink(entry.name, dir_fd=fd)
                except OSError:
                    target = None
                sub.problem = (
                    f"{entry.name} is a {_link(target)}; links are never followed: collect the "
                    "hand-in itself into the submissions folder"
                )
            else:
                if root.exists():
                    shutil.rmtree(root)
                folder = kind == "folder"
                stage, verb = (_stage_folder, "read") if folder else (_stage_zip, "unpack")
                try:
                    sub.left_out = stage(fd, entry.name, root, known)
                except (zipfile.BadZipFile, ValueError, OSError) as exc:
                    sub.problem = f"could not {verb} {entry.name}: {exc}"
            if sub.problem is None:
                sub.exercises = _exercise_folders(root, known)
            result[student] = sub
    finally:
        os.close(fd)
    return [result[k] for k in sorted(result)]
