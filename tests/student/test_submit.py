"""``i2dl submit EX --student ID``: ID.zip in the layout the grader reads, or a clear refusal."""

from __future__ import annotations

import copy
import json
import os
import zipfile
from pathlib import Path

import nbformat
import pytest

from i2dl import cli
from tests.student.conftest import tiny_notebook, write_exercise

pytestmark = pytest.mark.student

EX = "tiny_ex"


@pytest.fixture(autouse=True)
def no_released_list(tmp_path, monkeypatch):
    monkeypatch.setattr(cli, "RELEASED_TESTS", tmp_path / "no-such-list.json")


@pytest.fixture
def course(tmp_path, monkeypatch) -> Path:
    """A student's course folder: exercises/tiny_ex with a notebook, data and debris."""
    root = tmp_path / "course"
    folder = root / "exercises" / EX
    write_exercise(folder, tiny_notebook())
    (folder / "results").mkdir()
    (folder / "results" / "table.csv").write_text("a,b\n1,2\n")
    (folder / ".ipynb_checkpoints").mkdir()
    (folder / ".ipynb_checkpoints" / "tiny-checkpoint.ipynb").write_text("{}")
    (folder / "__pycache__").mkdir()
    (folder / "__pycache__" / "helper.cpython-311.pyc").write_bytes(b"\0")
    (folder / ".DS_Store").write_bytes(b"\0")
    monkeypatch.chdir(root)
    return root


def submit(capsys, *args: str) -> tuple[int, list[str], str]:
    code = cli.main(["submit", *args])
    captured = capsys.readouterr()
    return code, captured.out.splitlines(), captured.err


def members(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as zf:
        return {info.filename: zf.read(info) for info in zf.infolist()}


def test_packs_the_exercise_folder_in_the_graders_layout(course, capsys):
    folder = course / "exercises" / EX

    code, lines, err = submit(capsys, EX, "--student", "alice")

    assert (code, err) == (0, "")
    target = course / "alice.zip"
    assert members(target) == {
        f"{EX}/data.txt": b"hello\n",
        f"{EX}/results/table.csv": b"a,b\n1,2\n",
        f"{EX}/tiny.ipynb": (folder / "tiny.ipynb").read_bytes(),
    }
    with zipfile.ZipFile(target) as zf:
        assert all((info.external_attr >> 16) == 0o100644 for info in zf.infolist())
    assert lines[0].startswith(f"Wrote {target} (3 files, ")
    assert lines[1:] == [
        f"  {EX}/data.txt",
        f"  {EX}/results/table.csv",
        f"  {EX}/tiny.ipynb",
        "Left out (hidden files, editor backups and caches): .DS_Store, .ipynb_checkpoints/, "
        "__pycache__/",
        "Hand in alice.zip as your course asks (e.g. upload it).",
    ]
    assert sorted(p.name for p in course.iterdir()) == ["alice.zip", "exercises"]


@pytest.mark.parametrize("where", ["here", "exercises", "from_parent", "from_folder", "inside"])
def test_finds_the_exercise_folder(course, capsys, monkeypatch, where):
    folder = course / "exercises" / EX
    args = [EX, "--student", "bob"]
    out = course
    if where == "here":
        monkeypatch.chdir(course / "exercises")
        out = course / "exercises"
    elif where == "from_parent":
        args += ["--from", str(course / "exercises")]
    elif where == "from_folder":
        args += ["--from", str(folder)]
    elif where == "inside":  # run in the exercise's folder: the zip lands there, and twice
        monkeypatch.chdir(folder)
        out = folder
        assert submit(capsys, *args)[0] == 0

    code, _, _ = submit(capsys, *args)

    assert code == 0
    assert sorted(members(out / "bob.zip")) == [
        f"{EX}/data.txt", f"{EX}/results/table.csv", f"{EX}/tiny.ipynb"]


def test_out_folder(course, capsys, tmp_path):
    (tmp_path / "hand-ins").mkdir()

    code, _, _ = submit(capsys, EX, "--student", "carol", "--out", str(tmp_path / "hand-ins"))

    assert code == 0
    assert (tmp_path / "hand-ins" / "carol.zip").is_file()
    assert not (course / "carol.zip").exists()


def refused(capsys, course, *args: str) -> str:
    code, lines, err = submit(capsys, *args)
    assert (code, lines) == (2, [])
    assert not [p for p in course.rglob("*.zip*")], "nothing is written when refused"
    assert err.startswith("i2dl submit: error: ") and err.endswith("\n")
    return err[len("i2dl submit: error: "):-1]


def test_no_exercise_folder(course, capsys):
    assert refused(capsys, course, "ex99", "--student", "dave") == (
        "no folder for exercise 'ex99': looked for ./ex99 and ./exercises/ex99; run this in the "
        "folder that holds your exercises, or give the exercise's folder with --from FOLDER")


@pytest.mark.parametrize("student", ["../evil", "a b", "-rf", "", "x" * 65, "\u00e9tudiant"])
def test_invalid_student_ids(course, capsys, student):
    assert refused(capsys, course, EX, f"--student={student}") == (
        f"--student {student!r} is not a valid student ID: use 1 to 64 letters, digits, '_', '-' "
        "or '.', starting with a letter or a digit (e.g. your university login)")


def test_invalid_exercise_name(course, capsys):
    assert refused(capsys, course, "../x", "--student", "erin") == (
        "'../x' is not an exercise name: give the name of the exercise's folder, e.g. "
        "ex01_linear_regression")


@pytest.mark.parametrize("kind", ["file", "folder"])
def test_links_are_refused(course, capsys, kind, tmp_path):
    folder = course / "exercises" / EX
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "secret.txt").write_text("not mine")
    if kind == "file":
        (folder / "results" / "data-link.txt").symlink_to(elsewhere / "secret.txt")
        name = "results/data-link.txt"
    else:
        (folder / "linked").symlink_to(elsewhere, target_is_directory=True)
        name = "linked"

    assert refused(capsys, course, EX, "--student", "frank") == (
        f"{name} is a link (shortcut to another file or folder); a hand-in may hold regular "
        "files only: replace it by a copy of what it points to, or move it out of the folder")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX")
def test_special_files_are_refused(course, capsys):
    os.mkfifo(course / "exercises" / EX / "pipe")

    assert refused(capsys, course, EX, "--student", "gina") == (
        "pipe is not a regular file; move it out of the folder")


def test_an_oversized_file_is_refused(course, capsys, monkeypatch):
    monkeypatch.setattr(cli, "MAX_FILE_BYTES", 2048)
    (course / "exercises" / EX / "big.bin").write_bytes(b"\0" * 3000)

    assert refused(capsys, course, EX, "--student", "hank") == (
        "big.bin is 2.9 KiB; a hand-in file may be at most 2.0 KiB: leave large data out (the "
        "grader has the course's data) or save smaller results")


def test_too_many_files_are_refused(course, capsys, monkeypatch):
    monkeypatch.setattr(cli, "MAX_FILES", 3)
    (course / "exercises" / EX / "extra.txt").write_text("one too many")

    assert refused(capsys, course, EX, "--student", "ivy") == (
        "the folder holds more than 3 files; a hand-in may hold at most 3: move generated files "
        "(downloads, checkpoints, images) out of it")


def test_too_many_bytes_are_refused(course, capsys, monkeypatch):
    monkeypatch.setattr(cli, "MAX_TOTAL_BYTES", 4000)
    (course / "exercises" / EX / "a.bin").write_bytes(b"\0" * 3000)
    (course / "exercises" / EX / "b.bin").write_bytes(b"\0" * 3000)

    assert refused(capsys, course, EX, "--student", "jack") == (
        "the files add up to more than 3.9 KiB, the most a hand-in may hold: move large data or "
        "generated files out of the folder")


def test_folders_nested_too_deep_are_refused(course, capsys):
    deep = course / "exercises" / EX / "a" / "b" / "c" / "d" / "e" / "f" / "g"
    deep.mkdir(parents=True)
    (deep / "x.txt").write_text("x")

    assert refused(capsys, course, EX, "--student", "kim") == (
        "a/b/c/d/e/f/g is more than 6 folders deep; a hand-in may nest folders at most 6 deep: "
        "move it out of the exercise's folder")


def test_an_invalid_notebook_is_refused(course, capsys):
    path = course / "exercises" / EX / "tiny.ipynb"
    path.write_text(path.read_text()[:100])

    message = refused(capsys, course, EX, "--student", "lee")

    assert message.startswith(f"{path} is not a notebook: it is not valid JSON (")


def test_a_folder_without_notebooks_is_refused(course, capsys):
    (course / "exercises" / EX / "tiny.ipynb").unlink()

    assert refused(capsys, course, EX, "--student", "max") == (
        f"{course / 'exercises' / EX} holds no notebook (.ipynb): is it the exercise's folder?")


def test_changed_test_cells_and_missing_notebooks_are_warned_about(course, capsys, monkeypatch,
                                                                   tmp_path):
    pristine = tiny_notebook()
    listed = [{"grade_id": c.metadata.nbgrader["grade_id"], "checksum": c.metadata.nbgrader[
        "checksum"], "points": c.metadata.nbgrader.get("points"), "test": c.metadata.nbgrader[
        "grade"]} for c in pristine.cells if c.metadata.get("nbgrader", {}).get("locked")]
    released = tmp_path / "list.json"
    released.write_text(json.dumps({"version": "9.9", "notebooks": {
        "tiny": {"exercise": EX, "cells": listed}, "second": {"exercise": EX, "cells": []}}}))
    monkeypatch.setattr(cli, "RELEASED_TESTS", released)
    nb = copy.deepcopy(pristine)
    nb.cells[5].source += "\npass"
    nbformat.write(nb, course / "exercises" / EX / "tiny.ipynb")

    code, lines, _ = submit(capsys, EX, "--student", "nina")

    assert code == 0
    assert lines[-3:] == [
        "warning: tiny.ipynb: test cell test_wrong was edited: grading restores the original, so "
        "your changes there do not count (copy the cell's code to a new cell to experiment)",
        f"warning: second.ipynb is not in {course / 'exercises' / EX}: the grader looks for it "
        "by this name",
        "Hand in nina.zip as your course asks (e.g. upload it).",
    ]
    assert (course / "nina.zip").is_file()
