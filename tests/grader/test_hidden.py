"""Splitting test cells into visible code and hidden regions, and the authoring lint."""

from __future__ import annotations

import nbformat
import pytest

from grader.hidden import free_names, lint_notebook, split_regions

pytestmark = pytest.mark.grader


def test_split_regions_keeps_order_and_drops_markers():
    source = (
        "x = 1\n### BEGIN HIDDEN TESTS\n_y = x + 1\n### END HIDDEN TESTS\nprint(x)\n"
        "### BEGIN HIDDEN TESTS\n_z = 2"
    )
    assert split_regions(source) == [
        (False, "x = 1"), (True, "_y = x + 1"), (False, "print(x)"), (True, "_z = 2"),
    ]


def test_a_cell_without_hidden_tests_is_one_visible_piece():
    assert split_regions("a = 1\nb = 2") == [(False, "a = 1\nb = 2")]


def test_free_names_are_what_the_region_takes_from_the_student():
    code = (
        "from grader.notebook_checks import call_own\n"
        "import math as _m\n"
        "_x = np.ones(3)\n"
        "def _f(_v):\n    return _v + _offset\n"
        "_offset = 1\n"
        "_out = call_own(affine_forward, _x, [len(_x) for _i in range(2)])\n"
        "try:\n    pass\nexcept ValueError as _e:\n    print(_e, BEST_CONFIG)\n"
    )
    assert free_names(code) == {"affine_forward", "BEST_CONFIG"}


def _notebook(*cells):
    nb = nbformat.v4.new_notebook()
    for source, meta in cells:
        cell = nbformat.v4.new_code_cell(source)
        cell.metadata["nbgrader"] = meta
        nb.cells.append(cell)
    return nb


ANSWER = {"solution": True, "grade": False, "grade_id": "answer"}
TEST = {"solution": False, "grade": True, "grade_id": "test_it", "points": 1}


def test_lint_accepts_names_the_notebook_defines():
    nb = _notebook(
        ("from i2dl.data import make_xor\ndef fit(x):\n    return x\nCONFIG = {}", ANSWER),
        ("### BEGIN HIDDEN TESTS\nfrom i2dl.data import make_xor\n"
         "_X, _y = make_xor(10)\nassert fit(_X) is not None and CONFIG == {}\n"
         "### END HIDDEN TESTS", TEST),
    )
    assert lint_notebook(nb, "nb") == []


def test_lint_refuses_a_name_the_notebook_only_imports():
    nb = _notebook(
        ("from i2dl.data import make_xor\ndef fit(x):\n    return x", ANSWER),
        ("### BEGIN HIDDEN TESTS\n_X, _y = make_xor(10)\nassert fit(_X) is not None\n"
         "### END HIDDEN TESTS", TEST),
    )
    (problem,) = lint_notebook(nb, "nb")
    assert "test_it" in problem and "make_xor" in problem and "import it inside" in problem


def test_lint_refuses_unknown_names_and_test_cells_without_hidden_tests():
    nb = _notebook(
        ("def fit(x):\n    return x", ANSWER),
        ("### BEGIN HIDDEN TESTS\nassert fitt(1) == 1\n### END HIDDEN TESTS", TEST),
        ("assert fit(1) == 1", {**TEST, "grade_id": "test_visible_only"}),
    )
    problems = lint_notebook(nb, "nb")
    assert len(problems) == 2
    assert "fitt" in problems[0] and "nothing in the notebook defines" in problems[0]
    assert "test_visible_only" in problems[1] and "student controls" in problems[1]
