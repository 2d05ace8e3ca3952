"""``i2dl check NOTEBOOK``: a fresh kernel, the grading budgets, a table of the visible tests."""

from __future__ import annotations

import copy
import json
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from i2dl import cli
from tests.student.conftest import nbgrader_cell, tiny_notebook, write_exercise

pytestmark = pytest.mark.student

HIDDEN_NOTE = ("Hidden tests run only when the notebook is graded: code that passes the visible "
               "checks can still fail them.")
WRONG = ("AssertionError: double(1) does not match the expected value: 1 of 1 entries differ "
         "(rtol=1e-07, atol=1e-09)")


@pytest.fixture(autouse=True)
def no_released_list(tmp_path, monkeypatch):
    """By default this i2dl knows no released notebooks (as in a checkout of the course)."""
    monkeypatch.setattr(cli, "RELEASED_TESTS", tmp_path / "no-such-list.json")


def released_list(path: Path, nb, name: str = "tiny") -> Path:
    """The list `make bundle` puts into the student wheel, for one notebook."""
    cells = [{"grade_id": c.metadata.nbgrader["grade_id"], "checksum": c.metadata.nbgrader[
        "checksum"], "points": c.metadata.nbgrader.get("points"),
        "test": c.metadata.nbgrader["grade"]} for c in nb.cells
        if c.metadata.get("nbgrader", {}).get("locked")]
    path.write_text(json.dumps({"version": "9.9", "notebooks": {
        name: {"exercise": "tiny_ex", "cells": cells}}}))
    return path


def run(capsys, *args: str) -> tuple[int, list[str], str]:
    code = cli.main(["check", *args])
    captured = capsys.readouterr()
    return code, captured.out.splitlines(), captured.err


def without_timing(lines: list[str]) -> list[str]:
    assert re.fullmatch(r"Ran \d+ code cells in \d+\.\d s\.", lines[1]), lines[1]
    return [lines[0], *lines[2:]]


def test_prints_the_tests_table_and_leaves_the_notebook_alone(tmp_path, capsys):
    path = write_exercise(tmp_path / "tiny_ex", tiny_notebook())
    before = path.read_bytes()

    code, lines, err = run(capsys, str(path))

    assert code == 1
    assert err == ""
    assert without_timing(lines) == [
        f"Checking {path} in a fresh kernel, with the grading time budgets (60 s per cell, 600 s "
        "per notebook).",
        "",
        "test         result  points  message",
        "-----------  ------  ------  -------",
        "test_double  passed       5",
        "test_data    passed       3",  # data.txt next to the notebook was found
        f"test_wrong   FAILED       2  {WRONG}",
        "total: 2 of 3 tests passed their visible checks (worth 8 of 10 points)",
        HIDDEN_NOTE,
        "",
        "note: deleted test cells cannot be detected: this installation of i2dl has no list of "
        "the test cells released in tiny.ipynb",
    ]
    assert path.read_bytes() == before
    assert sorted(p.name for p in path.parent.iterdir()) == ["data.txt", "tiny.ipynb"]


def test_all_passing_but_edited_tests_still_fail_the_check(tmp_path, capsys, monkeypatch):
    pristine = tiny_notebook()
    monkeypatch.setattr(cli, "RELEASED_TESTS", released_list(tmp_path / "list.json", pristine))
    nb = copy.deepcopy(pristine)
    nb.cells[5].source = '"""a check that fails (2 points)"""\nassert True  # made to pass'
    path = write_exercise(tmp_path / "tiny_ex", nb)

    code, lines, _ = run(capsys, str(path))

    assert code == 1
    assert without_timing(lines)[4:] == [
        "test_double  passed       5",
        "test_data    passed       3",
        "test_wrong   passed       2",
        "total: 3 of 3 tests passed their visible checks (worth 10 of 10 points)",
        HIDDEN_NOTE,
        "",
        "warning: test cell test_wrong was edited: grading restores the original, so your "
        "changes there do not count (copy the cell's code to a new cell to experiment)",
    ]


def test_a_cell_over_its_budget_stops_the_run_as_grading_does(tmp_path, capsys):
    nb = tiny_notebook(
        nbformat.v4.new_code_cell("import time\ntime.sleep(2.5)"),
        nbformat.v4.new_code_cell("time.sleep(60)"),
        nbgrader_cell('"""after the slow cell (4 points)"""\nassert True', "test_after",
                      test=True, points=4),
    )
    path = write_exercise(tmp_path / "tiny_ex", nb)

    code, lines, _ = run(capsys, str(path), "--cell-timeout", "4")
    lines = without_timing(lines)

    assert code == 1
    assert lines[0] == (f"Checking {path} in a fresh kernel, with the grading time budgets (4 s "
                        "per cell, 600 s per notebook).")
    assert lines[4:10] == [
        "test_double  passed        5",
        "test_data    passed        3",
        f"test_wrong   FAILED        2  {WRONG}",
        "test_after   not run       4  the run stopped at In [7]: it ran longer than 4 s",
        "total: 2 of 4 tests passed their visible checks (worth 8 of 14 points)",
        HIDDEN_NOTE,
    ]
    assert lines[11] == ("warning: In [7] (time.sleep(60)) stopped the run: it ran longer than "
                         "4 s; grading stops there too, and every test cell after it scores 0")
    assert re.fullmatch(r"warning: In \[6\] \(import time\) took [34] s of its 4 s budget: on a "
                        r"slower or busier grading machine it could run over", lines[12])


def test_the_notebook_budget_limits_the_last_cell(tmp_path, capsys):
    nb = tiny_notebook(
        nbformat.v4.new_code_cell("import time\ntime.sleep(1)"),
        nbformat.v4.new_code_cell("time.sleep(60)"),
    )
    path = write_exercise(tmp_path / "tiny_ex", nb)

    code, lines, _ = run(capsys, str(path), "--notebook-timeout", "8")

    assert code == 1
    assert any(re.fullmatch(
        r"warning: In \[7\] \(time.sleep\(60\)\) stopped the run: it ran longer than the \d s "
        r"left of the notebook's 8 s; grading stops there too, and every test cell after it "
        r"scores 0", line) for line in lines), lines


def test_cell_changes_against_the_released_list(tmp_path, monkeypatch):
    pristine = tiny_notebook()
    monkeypatch.setattr(cli, "RELEASED_TESTS", released_list(tmp_path / "list.json", pristine))
    nb = copy.deepcopy(pristine)
    nb.cells[3].source += "\n# a comment"  # test_double edited
    nb.cells.insert(5, copy.deepcopy(nb.cells[4]))  # test_data pasted twice
    del nb.cells[6]  # test_wrong deleted
    nb.cells[1].cell_type = "markdown"  # the read-only setup cell turned into text
    del nb.cells[1]["outputs"], nb.cells[1]["execution_count"]

    changes, knows = cli.cell_changes(nb, "tiny")

    assert knows is True
    assert changes == [
        "read-only cell setup was edited: grading restores the original, so your changes there "
        "do not count (copy the cell's code to a new cell to experiment)",
        "test cell test_double was edited: grading restores the original, so your changes there "
        "do not count (copy the cell's code to a new cell to experiment)",
        "test_data appears 2 times: it is graded once, as released",
        "test cell test_wrong is missing (deleted, or its metadata removed): grading adds the "
        "original back and runs it",
    ]
    assert cli.cell_changes(pristine, "tiny") == ([], True)
    assert cli.cell_changes(pristine, "other") == ([], False)


def test_a_notebook_from_another_release_is_named(tmp_path, monkeypatch):
    pristine = tiny_notebook()
    listed = copy.deepcopy(pristine)
    listed.cells[3].metadata.nbgrader["checksum"] = "0" * 32
    monkeypatch.setattr(cli, "RELEASED_TESTS", released_list(tmp_path / "list.json", listed))

    assert cli.cell_changes(pristine, "tiny")[0] == [
        "test cell test_double is not the one released with this i2dl (version 9.9): is the "
        "notebook from another release of the course?"
    ]


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (None, "{path}: no such file; give the path of a notebook (.ipynb)"),
        ("dir", "{path} is a folder; give the path of a notebook file (.ipynb) in it"),
        ('{"cells": [', "{path} is not a notebook: it is not valid JSON (Expecting value, line "
                        "1); if it was cut off, restore it from its .ipynb_checkpoints copy or "
                        "the original"),
        (b"\xff\xfe", "{path} cannot be read as a text file ('utf-8' codec can't decode byte "
                      "0xff in position 0: invalid start byte)"),
    ],
)
def test_bad_input_exits_2_with_a_clear_message(tmp_path, capsys, content, expected):
    path = tmp_path / "nb.ipynb"
    if content == "dir":
        path.mkdir()
    elif isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        path.write_text(content)

    code, lines, err = run(capsys, str(path))

    assert (code, lines) == (2, [])
    assert err == "i2dl check: error: " + expected.format(path=path) + "\n"


def test_json_that_is_no_notebook_exits_2(tmp_path, capsys):
    path = tmp_path / "nb.ipynb"
    path.write_text('{"cells": 3}')

    code, _, err = run(capsys, str(path))

    assert code == 2
    assert err.startswith(f"i2dl check: error: {path} is not a valid Jupyter notebook (")
    assert err.endswith("); open it in JupyterLab and save it again, or restore the original\n")


def test_no_kernel_exits_2(tmp_path, capsys, monkeypatch):
    path = write_exercise(tmp_path / "tiny_ex", tiny_notebook())
    monkeypatch.setattr(sys, "executable", str(tmp_path / "no-python"))

    code, lines, err = run(capsys, str(path))

    assert code == 2
    assert err.startswith("i2dl check: error: could not start a Python kernel (")
    assert "is ipykernel installed in this environment?" in err


def test_bad_budgets_are_refused_by_the_parser(capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main(["check", "nb.ipynb", "--cell-timeout", "0"])

    assert exit_.value.code == 2
    assert "expected at least 1 second, got 0" in capsys.readouterr().err


def test_pytest_itself_runs_without_the_iri_format_check():
    # pyproject's addopts load the grader package (`-p grader`) before nbval imports nbformat,
    # so no pytest process builds rfc3987_syntax's parsers either
    assert "nbformat" in sys.modules
    assert sys.modules.get("rfc3987_syntax", "never imported") is None


@pytest.mark.parametrize("command", ["i2dl.cli", "grader.cli"])
def test_the_commands_skip_the_iri_format_check_and_still_validate_notebooks(command):
    # jsonschema loads rfc3987_syntax (about a second of CPU) only to check "iri" strings,
    # which notebooks do not have: neither command line loads it, and validation still works.
    code = (f"import sys, {command}, nbformat\n"
            "nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell('1')])\n"
            "nbformat.validate(nb)\n"
            "bad = nbformat.v4.new_notebook()\n"
            "bad.cells.append(nbformat.from_dict({'cell_type': 'code'}))\n"
            "try:\n    nbformat.validate(bad)\nexcept nbformat.ValidationError:\n"
            "    print('invalid refused')\n"
            "print(sys.modules['rfc3987_syntax'])\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    assert proc.stdout.splitlines() == ["invalid refused", "None"]
