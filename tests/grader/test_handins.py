"""Staging hand-ins: links are never followed, big hand-ins cost little, old notebooks convert.

No kernel runs here. How the same cases are graded (statuses, scores, what the student's kernel
sees) is checked in test_hostile.py, in the one grading run of the hostile class.
"""

from __future__ import annotations

import copy
import json
import os
import zipfile
from pathlib import Path

import nbformat
import pytest

from grader import submissions
from grader.autograde import _read_notebook, _upgrade_grading_metadata
from grader.sample import student_version, write_notebook
from grader.scheduler import fingerprint
from grader.submissions import (
    BEYOND_MAX_BYTES,
    BEYOND_MAX_FILES,
    MAX_DEPTH,
    MAX_FILES,
    MAX_LISTED,
    SPECIAL,
    TOO_DEEP,
    discover,
)
from tests.grader.conftest import EX, NB, REPO

pytestmark = pytest.mark.grader

NOTEBOOK = f"{EX}/{NB}.ipynb"
SOLUTION = REPO.solutions / EX / f"{NB}.ipynb"


@pytest.fixture
def subs(tmp_path) -> Path:
    folder = tmp_path / "submissions"
    folder.mkdir()
    return folder


def stage(subs: Path) -> dict[str, submissions.StudentSubmission]:
    staging = subs.parent / "out" / "unpacked"
    return {s.student: s for s in discover(subs, REPO.exercise_names(), staging)}


def put(path: Path, data: str = "{}") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(data)
    return path


def staged(sub: submissions.StudentSubmission) -> dict[str, str]:
    return {name: path.read_text() for name, path in sub.files(EX)}


def test_a_folder_hand_in_is_graded_from_a_staged_copy(subs):
    put(subs / "ada" / NOTEBOOK, "the notebook")
    put(subs / "ada" / EX / "data.csv", "1,2")
    put(subs / "ada" / EX / "lib" / "helper.py", "x = 1")
    sub = stage(subs)["ada"]
    assert sub.exercises == {EX: subs.parent / "out" / "unpacked" / "ada" / EX}
    assert staged(sub) == {
        "data.csv": "1,2", "lib/helper.py": "x = 1", f"{NB}.ipynb": "the notebook"
    }
    assert (sub.problem, sub.left_out, sub.notes()) == (None, {}, [])
    # staging again replaces the copy: what the student removed is gone
    (subs / "ada" / EX / "data.csv").unlink()
    assert set(staged(stage(subs)["ada"])) == {"lib/helper.py", f"{NB}.ipynb"}


def test_a_notebook_that_is_a_link_is_left_out_and_named(subs):
    (subs / "bob" / EX).mkdir(parents=True)
    (subs / "bob" / NOTEBOOK).symlink_to(SOLUTION)
    sub = stage(subs)["bob"]
    what = f"symbolic link to {str(SOLUTION)!r}"
    assert sub.left_out == {NOTEBOOK: what}
    assert staged(sub) == {}
    assert sub.left_out_instead(EX, NB) == f"{NOTEBOOK} is a {what}"
    assert sub.notes() == [f"bob: left out {NOTEBOOK}: {what}"]


def test_an_exercise_folder_that_is_a_link_is_left_out_and_named(subs):
    (subs / "cy").mkdir()
    (subs / "cy" / EX).symlink_to(REPO.solutions / EX)
    sub = stage(subs)["cy"]
    what = f"symbolic link to {str(REPO.solutions / EX)!r}"
    assert (sub.exercises, sub.left_out) == ({}, {EX: what})
    assert sub.left_out_instead(EX, NB) == f"{EX} is a {what}"


def test_a_top_level_folder_that_is_a_link_is_named_for_the_missing_notebook(subs):
    (subs / "dee").mkdir()
    (subs / "dee" / "work").symlink_to(REPO.solutions)
    sub = stage(subs)["dee"]
    assert sub.exercises == {}
    assert sub.left_out_instead(EX, NB) == f"work is a symbolic link to {str(REPO.solutions)!r}"


def test_a_student_folder_or_zip_that_is_a_link_is_not_read(subs, tmp_path):
    (subs / "eve").symlink_to(REPO.solutions)
    put(tmp_path / "elsewhere.zip")
    (subs / "fay.zip").symlink_to(tmp_path / "elsewhere.zip")
    (subs / "notes.txt").symlink_to(tmp_path / "elsewhere.zip")  # not a hand-in: ignored
    found = stage(subs)
    assert sorted(found) == ["eve", "fay"]
    assert found["eve"].problem == (
        f"eve is a symbolic link to {str(REPO.solutions)!r}; links are never followed: collect "
        "the hand-in itself into the submissions folder"
    )
    assert found["fay"].problem.startswith(f"fay.zip is a symbolic link to '{tmp_path}")
    assert found["eve"].exercises == found["fay"].exercises == {}
    assert not (subs.parent / "out" / "unpacked" / "eve").exists()


def test_a_data_file_linked_to_a_secret_is_not_staged(subs, tmp_path):
    secret = put(tmp_path / "secret.txt", "the instructor's")
    put(subs / "gus" / NOTEBOOK)
    put(subs / "gus" / EX / "notes.txt", "mine")
    (subs / "gus" / EX / "data.txt").symlink_to(secret)
    (subs / "gus" / EX / "deeper").mkdir()
    (subs / "gus" / EX / "deeper" / "also.txt").symlink_to(secret)
    sub = stage(subs)["gus"]
    assert staged(sub) == {"notes.txt": "mine", f"{NB}.ipynb": "{}"}
    assert sub.left_out == {
        f"{EX}/data.txt": f"symbolic link to {str(secret)!r}",
        f"{EX}/deeper/also.txt": f"symbolic link to {str(secret)!r}",
    }
    assert sub.left_out_instead(EX, NB) is None


def test_link_loops_end_the_walk(subs):
    folder = subs / "hal" / EX
    put(folder / f"{NB}.ipynb")
    (folder / "a").symlink_to("b")
    (folder / "b").symlink_to("a")
    (folder / "self").symlink_to("self")
    (folder / "up").symlink_to("..")
    (folder / "here").symlink_to(".")
    sub = stage(subs)["hal"]
    assert staged(sub) == {f"{NB}.ipynb": "{}"}
    assert sub.left_out == {
        f"{EX}/a": "symbolic link to 'b'",
        f"{EX}/b": "symbolic link to 'a'",
        f"{EX}/here": "symbolic link to '.'",
        f"{EX}/self": "symbolic link to 'self'",
        f"{EX}/up": "symbolic link to '..'",
    }


def test_hard_links_to_files_outside_the_hand_in_are_left_out(subs, tmp_path):
    # What a hard link means: the same file under several names. A name outside the hand-in
    # (the instructor's copy of the solution, another student's notebook) makes the bytes
    # somebody else's; names that all lie inside the hand-in are copies of the student's own.
    instructor = put(tmp_path / "instructor" / "solution.ipynb", "full marks")
    folder = subs / "ida" / EX
    folder.mkdir(parents=True)
    os.link(instructor, folder / f"{NB}.ipynb")
    put(folder / "mine.txt", "own")
    os.link(folder / "mine.txt", folder / "mine-again.txt")
    sub = stage(subs)["ida"]
    what = "hard link (the file has 2 names, 1 of them in this hand-in)"
    assert sub.left_out == {NOTEBOOK: what}
    assert staged(sub) == {"mine-again.txt": "own", "mine.txt": "own"}
    assert sub.left_out_instead(EX, NB) == f"{NOTEBOOK} is a {what}"
    # the staged copies are independent files
    assert os.stat(sub.exercises[EX] / "mine.txt").st_nlink == 1


def test_a_hard_linked_zip_is_refused(subs, tmp_path):
    original = tmp_path / "someone.zip"
    with zipfile.ZipFile(original, "w") as zf:
        zf.writestr(NOTEBOOK, "{}")
    os.link(original, subs / "jo.zip")
    assert stage(subs)["jo"].problem == (
        "could not unpack jo.zip: it is a hard link (the file has 2 names); hand in a copy"
    )


def test_special_files_are_left_out(subs):
    put(subs / "kim" / NOTEBOOK)
    os.mkfifo(subs / "kim" / EX / "pipe")
    sub = stage(subs)["kim"]
    assert sub.left_out == {f"{EX}/pipe": SPECIAL}
    assert staged(sub) == {f"{NB}.ipynb": "{}"}


def test_twenty_thousand_files_are_capped_and_the_notebook_kept(subs):
    folder = subs / "lou" / EX
    put(folder / f"{NB}.ipynb")
    for i in range(20_000):  # named to sort before the notebook
        (folder / f"a{i:05d}.txt").write_text("x")
    sub = stage(subs)["lou"]
    files = staged(sub)
    assert len(files) == MAX_FILES
    assert f"{NB}.ipynb" in files
    assert set(files) - {f"{NB}.ipynb"} == {f"a{i:05d}.txt" for i in range(MAX_FILES - 1)}
    assert len(sub.left_out) == 20_001 - MAX_FILES
    assert set(sub.left_out.values()) == {BEYOND_MAX_FILES}
    assert sub.notes() == [
        f"lou: left out {20_001 - MAX_FILES} files beyond the first {MAX_FILES} (notebooks and "
        "files in exercise folders are kept first)"
    ]


def test_a_zip_of_twenty_thousand_members_is_capped_and_the_notebook_kept(subs):
    with zipfile.ZipFile(subs / "max.zip", "w") as zf:
        for i in range(20_000):
            zf.writestr(f"{EX}/a{i:05d}.txt", "x")
        zf.writestr(NOTEBOOK, "{}")
    sub = stage(subs)["max"]
    files = staged(sub)
    assert len(files) == MAX_FILES and files[f"{NB}.ipynb"] == "{}"
    assert len(sub.left_out) == 20_001 - MAX_FILES
    assert set(sub.left_out.values()) == {BEYOND_MAX_FILES}


def test_files_in_exercise_folders_come_before_other_files(subs, monkeypatch):
    monkeypatch.setattr(submissions, "MAX_FILES", 3)
    put(subs / "ned" / NOTEBOOK)
    put(subs / "ned" / EX / "zz-data.txt", "needed")
    for i in range(5):
        put(subs / "ned" / "aa-junk" / f"{i}.txt")
    sub = stage(subs)["ned"]
    assert staged(sub) == {f"{NB}.ipynb": "{}", "zz-data.txt": "needed"}
    assert sorted(sub.left_out) == [f"aa-junk/{i}.txt" for i in range(1, 5)]


def test_the_bytes_of_a_hand_in_are_capped(subs, monkeypatch):
    monkeypatch.setattr(submissions, "MAX_BYTES", 10)
    put(subs / "oz" / NOTEBOOK, "12345")
    put(subs / "oz" / EX / "big.bin", "123456")
    put(subs / "oz" / EX / "small.txt", "1234")
    sub = stage(subs)["oz"]
    assert staged(sub) == {f"{NB}.ipynb": "12345", "small.txt": "1234"}
    assert sub.left_out == {f"{EX}/big.bin": BEYOND_MAX_BYTES}


def test_folders_fifty_levels_deep_are_cut_at_the_depth_limit(subs):
    folder = subs / "pia" / EX
    put(folder / f"{NB}.ipynb")
    for level in range(50):
        put(folder.joinpath(*["d"] * level, "f.txt"), str(level))
    sub = stage(subs)["pia"]
    # folders of up to MAX_DEPTH levels (the exercise folder included) are read
    assert staged(sub) == {
        f"{NB}.ipynb": "{}",
        **{"/".join(["d"] * level + ["f.txt"]): str(level) for level in range(MAX_DEPTH)},
    }
    assert sub.left_out == {"/".join([EX] + ["d"] * MAX_DEPTH): TOO_DEEP}


def test_zips_get_the_same_rules(subs):
    with zipfile.ZipFile(subs / "quin.zip", "w") as zf:
        zf.writestr(f"top/{NOTEBOOK}", "{}")  # under one top-level folder: accepted
        link = zipfile.ZipInfo(f"top/{EX}/data.txt")
        link.create_system = 3
        link.external_attr = (0o120777 << 16)
        zf.writestr(link, str(SOLUTION))
        zf.writestr("/".join(["top", EX] + ["d"] * 50 + ["f.txt"]), "deep")
        zf.writestr(f"top/{EX}/__pycache__/x.pyc", "debris")
    sub = stage(subs)["quin"]
    assert sub.exercises == {EX: subs.parent / "out" / "unpacked" / "quin" / "top" / EX}
    assert staged(sub) == {f"{NB}.ipynb": "{}"}
    assert sub.left_out == {
        f"top/{EX}/data.txt": f"symbolic link to {str(SOLUTION)!r}",
        "/".join(["top", EX] + ["d"] * (MAX_DEPTH - 1)): TOO_DEEP,
    }


def test_a_zip_member_twice_is_staged_once(subs):
    with zipfile.ZipFile(subs / "ray.zip", "w") as zf:
        zf.writestr(NOTEBOOK, "first")
        with pytest.warns(UserWarning, match="Duplicate name"):
            zf.writestr(NOTEBOOK, "second")
    sub = stage(subs)["ray"]
    assert staged(sub) == {f"{NB}.ipynb": "first"}
    assert sub.left_out == {NOTEBOOK: "second zip member of the same name"}


@pytest.mark.parametrize(
    ("member", "problem"),
    [
        ("../evil.txt", "could not unpack sam.zip: unsafe path in zip: '../evil.txt'"),
        ("/etc/evil.txt", "could not unpack sam.zip: unsafe path in zip: '/etc/evil.txt'"),
    ],
)
def test_a_zip_with_unsafe_paths_is_refused(subs, member, problem):
    with zipfile.ZipFile(subs / "sam.zip", "w") as zf:
        zf.writestr(NOTEBOOK, "{}")
        zf.writestr(member, "x")
    assert stage(subs)["sam"].problem == problem


def test_a_zip_with_a_huge_table_of_contents_is_refused_before_reading(subs, monkeypatch):
    monkeypatch.setattr(submissions, "MAX_ZIP_DIRECTORY_BYTES", 1000)
    with zipfile.ZipFile(subs / "tom.zip", "w") as zf:
        for i in range(40):
            zf.writestr(f"{EX}/{i}.txt", "x")
    problem = stage(subs)["tom"].problem
    assert problem.startswith("could not unpack tom.zip: its table of contents takes ")
    assert problem.endswith("bytes (at most 1000 are read): far more files than a hand-in holds")


def test_a_file_that_is_not_a_zip_is_refused(subs):
    put(subs / "una.zip", "not a zip")
    assert stage(subs)["una"].problem == "could not unpack una.zip: File is not a zip file"


def test_report_lines_name_at_most_max_listed_entries(subs, tmp_path):
    put(subs / "vic" / NOTEBOOK)
    for i in range(MAX_LISTED + 5):
        (subs / "vic" / EX / f"link{i:02d}").symlink_to(tmp_path)
    notes = stage(subs)["vic"].notes()
    assert len(notes) == MAX_LISTED + 1
    assert notes[0] == f"vic: left out {EX}/link00: symbolic link to {str(tmp_path)!r}"
    assert notes[-1] == (
        "vic: left out 5 more entries (links, special files or files over the limits)"
    )


def test_fingerprint_hashes_the_staged_files_and_what_was_left_out(subs, tmp_path):
    secret = put(tmp_path / "secret.txt", "v1")
    put(subs / "wil" / NOTEBOOK, "nb")
    (subs / "wil" / EX / "data.txt").symlink_to(secret)
    with zipfile.ZipFile(subs.parent / "wil.zip", "w") as zf:
        zf.writestr(NOTEBOOK, "nb")

    def digest() -> str:
        return fingerprint(stage(subs)["wil"], [EX])

    first = digest()
    secret.write_text("v2")  # the link is not followed: its target is not graded
    assert digest() == first
    (subs / "wil" / EX / "data.txt").unlink()
    (subs / "wil" / EX / "data.txt").symlink_to(tmp_path / "other.txt")
    assert digest() != first  # what was left out is reported, so it counts
    (subs / "wil" / EX / "data.txt").unlink()
    without_link = digest()
    (subs / "wil" / EX / "extra.txt").write_text("x")
    assert digest() != without_link
    (subs / "wil" / EX / "extra.txt").unlink()
    # the same files handed in as a zip: the same fingerprint
    os.rename(subs / "wil", tmp_path / "wil-folder")
    os.rename(subs.parent / "wil.zip", subs / "wil.zip")
    assert digest() == without_link


def _nbformat3(nb) -> dict:
    return json.loads(nbformat.writes(nbformat.convert(copy.deepcopy(nb), 3), version=3))


def test_an_nbformat_3_notebook_is_converted(tmp_path):
    nb = student_version(REPO, EX, NB)
    old = _nbformat3(nb)
    # as an nbgrader of that time wrote it: no metadata schema version
    for cell in old["worksheets"][0]["cells"]:
        cell.get("metadata", {}).get("nbgrader", {}).pop("schema_version", None)
    path = put(tmp_path / "old.ipynb", json.dumps(old))
    converted, problem = _read_notebook(path)
    assert (problem, converted.nbformat, converted.metadata["orig_nbformat"]) == ("", 4, 3)
    assert [c.source for c in converted.cells] == [c.source for c in nb.cells]
    assert _upgrade_grading_metadata(converted) == ""
    graded = [c.metadata["nbgrader"] for c in converted.cells if "nbgrader" in c.metadata]
    assert len(graded) == len([c for c in nb.cells if "nbgrader" in c.metadata])
    assert {m["schema_version"] for m in graded} == {3}


def test_notebooks_that_cannot_be_converted_are_invalid_with_the_reason(tmp_path):
    old = _nbformat3(student_version(REPO, EX, NB))
    del old["worksheets"]
    nb, problem = _read_notebook(put(tmp_path / "old.ipynb", json.dumps(old)))
    assert nb is None
    assert problem == (
        "not a valid notebook (ValidationError: The notebook is invalid and is missing an "
        "expected key: worksheets)"
    )
    future = student_version(REPO, EX, NB)
    next(c for c in future.cells if "nbgrader" in c.metadata).metadata.nbgrader[
        "schema_version"
    ] = 99
    write_notebook(future, tmp_path / "future.ipynb")
    nb, problem = _read_notebook(tmp_path / "future.ipynb")
    assert _upgrade_grading_metadata(nb) == (
        "its nbgrader cell metadata is not valid (SchemaTooNewError: Schema version is too new: "
        "99 (expected 3))"
    )
