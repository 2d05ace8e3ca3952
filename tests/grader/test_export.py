"""`i2dl-grader export`: LMS import files from a graded class's gradebook."""

from __future__ import annotations

import shutil

import pytest
from nbgrader.api import Gradebook

from grader.cli import main
from grader.course import COURSE_ID
from tests.grader.conftest import run_cli
from tests.grader.ex01_class import EX, NB

pytestmark = pytest.mark.grader

ROSTER = (
    "student,name,sis_id,login,section,canvas_id,email\n"
    'ben,"Bauer, Ben",S002,bbauer,Tue,1002,ben@uni.example\n'
    'ada,"Adams, Ada",S001,aadams,Mon,1001,ada@uni.example\n'
    'zoe,"Zeller, Zoe",S009,zzeller,Mon,1009,zoe@uni.example\n'
)


@pytest.fixture(scope="module")
def graded(graded_ex01_class):
    """ada 100, ben 100 (a renamed copy), cleo 35, dan 0, eve 0 (an unreadable file)."""
    (graded_ex01_class.parent / "roster.csv").write_text(ROSTER)
    return graded_ex01_class


def _lines(*rows: str) -> str:
    return "".join(row + "\r\n" for row in rows)


def _read(path) -> str:
    with open(path, newline="", encoding="utf-8") as fh:
        return fh.read()


def test_plain_csv_has_one_row_per_student_and_a_total(graded, tmp_path):
    proc = run_cli("export", str(graded), "--format", "csv")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == f"wrote {graded / 'export-csv.csv'} (5 students)\n"
    assert _read(graded / "export-csv.csv") == _lines(
        "student,ex01_linear_regression,total",
        "ada,100,100",
        "ben,100,100",
        "cleo,35,35",
        "dan,0,0",
        "eve,0,0",
    )


def test_canvas_import_with_a_roster_and_an_assignment_id(graded, tmp_path):
    target = tmp_path / "canvas.csv"
    proc = run_cli("export", str(graded), "--format", "canvas", "--output", str(target),
                   "--roster", str(graded.parent / "roster.csv"),
                   "--assignment-id", f"{EX}=4711")
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == (
        "i2dl-grader: 3 hand-in(s) not in the roster, exported under their folder names: "
        "cleo, dan, eve\n"
    )
    assert _read(target) == _lines(
        "Student,ID,SIS User ID,SIS Login ID,Section,ex01_linear_regression (4711)",
        "Points Possible,,,,,100",
        '"Bauer, Ben",1002,S002,bbauer,Tue,100',
        '"Adams, Ada",1001,S001,aadams,Mon,100',
        '"Zeller, Zoe",1009,S009,zzeller,Mon,0',  # in the roster, nothing handed in
        "cleo,,,cleo,,35",
        "dan,,,dan,,0",
        "eve,,,eve,,0",
    )


def test_moodle_import_with_a_roster(graded, tmp_path):
    target = tmp_path / "moodle.csv"
    proc = run_cli("export", str(graded), "--format", "moodle", "--output", str(target),
                   "--roster", str(graded.parent / "roster.csv"))
    assert proc.returncode == 0, proc.stderr
    assert _read(target) == _lines(
        "ID number,Username,Email address,ex01_linear_regression",
        "S002,bbauer,ben@uni.example,100",
        "S001,aadams,ada@uni.example,100",
        "S009,zzeller,zoe@uni.example,0",
        ",cleo,,35",
        ",dan,,0",
        ",eve,,0",
    )


def test_canvas_without_a_roster_uses_the_folder_names(graded, tmp_path, capsys):
    target = tmp_path / "canvas.csv"
    assert main(["export", str(graded), "--format", "canvas", "--output", str(target)]) == 0
    assert capsys.readouterr().err == ""
    assert _read(target) == _lines(
        "Student,ID,SIS User ID,SIS Login ID,Section,ex01_linear_regression",
        "Points Possible,,,,,100",
        "ada,,,ada,,100",
        "ben,,,ben,,100",
        "cleo,,,cleo,,35",
        "dan,,,dan,,0",
        "eve,,,eve,,0",
    )


def test_scores_set_in_formgrader_are_exported(graded, tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    shutil.copy(graded / "gradebook.db", out / "gradebook.db")
    with Gradebook(f"sqlite:///{out / 'gradebook.db'}", COURSE_ID) as gb:
        gb.find_grade("test_mse_gradient", NB, EX, "cleo").manual_score = 7.5  # failed: 0 auto
        gb.find_grade("test_predict", NB, EX, "ada").manual_score = 4.0  # passed: 10 auto
        gb.find_grade("test_mse", NB, EX, "ben").extra_credit = 2.0
        gb.db.commit()
    assert main(["export", str(out), "--format", "csv"]) == 0
    assert _read(out / "export-csv.csv") == _lines(
        "student,ex01_linear_regression,total",
        "ada,94,94",
        "ben,102,102",
        "cleo,42.5,42.5",
        "dan,0,0",
        "eve,0,0",
    )


@pytest.mark.parametrize(
    ("args", "roster", "message"),
    [
        (["--format", "csv", "--roster", "{roster}"], "student,name,mail\nada,Ada,a@x\n",
         "expected a header row with the column 'student' (the submission folder name) and any of "
         "name, email, canvas_id, sis_id, login, section; found student, name, mail "
         "(unknown: mail)"),
        (["--format", "csv", "--roster", "{roster}"], "student,name\nada,Ada\nada,Ada A.\n",
         "line 3: student 'ada' listed twice"),
        (["--format", "moodle", "--assignment-id", f"{EX}=1"], None,
         "--assignment-id names Canvas assignments: use it with --format canvas"),
        (["--format", "canvas", "--assignment-id", "ex99=1"], None,
         "'ex99' is not graded in this folder; graded: ex01_linear_regression"),
        (["--format", "canvas", "--assignment-id", f"{EX}=abc"], None,
         "expected EX=ID with the Canvas assignment's number"),
    ],
)
def test_bad_input_is_refused_with_what_to_do(graded, tmp_path, capsys, args, roster, message):
    if roster is not None:
        (tmp_path / "roster.csv").write_text(roster)
    args = [a.replace("{roster}", str(tmp_path / "roster.csv")) for a in args]
    assert main(["export", str(graded), *args, "--output", str(tmp_path / "x.csv")]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "x.csv").exists()


def test_a_folder_that_was_never_graded_is_refused(tmp_path, capsys):
    assert main(["export", str(tmp_path), "--format", "csv"]) == 2
    assert capsys.readouterr().err == (
        f"i2dl-grader: error: no gradebook at {tmp_path / 'gradebook.db'}: grade the class first "
        f"with `i2dl-grader autograde SUBMISSIONS --out {tmp_path}`\n"
    )
