"""What a student sees in Jupyter: a test cell's pass line and a failed check's traceback.

One real IPython kernel (ipykernel through nbclient) runs a notebook that imports i2dl.testing
twice (and reloads it) and then runs passing and failing test cells.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import numpy as np
import pytest
from nbclient import NotebookClient

from i2dl._checksum import is_test_cell
from i2dl.testing import assert_close, pass_line

pytestmark = pytest.mark.student

ANSI = re.compile(r"\x1b\[[0-9;]*m")

CELLS = {
    "import": "import numpy as np\nfrom i2dl.testing import assert_close, check_gradients",
    "reimport": "import importlib\nimport i2dl.testing\nimportlib.reload(i2dl.testing)\n"
                "from i2dl.testing import assert_close, check_gradients",
    "passes": '"""ones: values (5 points)"""\nassert_close(np.ones(3), np.ones(3), name="ones")\n'
              'print("checked")',
    "fails": '"""scaled (10 points)"""\nx = np.array([[1.0, 2.0], [3.0, 4.0]])\n'
             'assert_close(2 * x, x, name="f(x)")',
    "gradcheck": '"""gradient (10 points)"""\ncheck_gradients(lambda x: (2 * x, None),\n'
                 '                lambda dout, cache: dout.copy(), {"x": np.ones((2, 2))})',
    "plain": '"""plain assert (1 point)"""\nassert 1 + 1 == 3, "arithmetic is broken"',
    "own": 'def mine():\n    assert False, "my own assert"\n\nmine()',
    "quiet": "y = 1",
    "raises": '"""raises before any check (5 points)"""\nraise ValueError("boom")',
    "other_handler": "get_ipython().set_custom_exc((), None)\n"
                     'assert_close(2 * x, x, name="f(x)")',
}


@pytest.fixture(scope="module")
def cells(tmp_path_factory):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(source) for source in CELLS.values()]
    client = NotebookClient(nb, timeout=60, allow_errors=True, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path_factory.mktemp("nb"))}})
    client.execute()
    return dict(zip(CELLS, nb.cells, strict=True))


def stdout(cell) -> str:
    return "".join(o.text for o in cell.outputs if o.output_type == "stream" and o.name == "stdout")


def errors(cell) -> list:
    return [o for o in cell.outputs if o.output_type == "error"]


def traceback_text(cell) -> str:
    (error,) = errors(cell)
    return ANSI.sub("", "\n".join(error.traceback))


def message(actual, expected, **kwargs) -> str:
    with pytest.raises(AssertionError) as failure:
        assert_close(actual, expected, **kwargs)
    return str(failure.value)


def test_a_passing_test_cell_prints_one_line_even_after_importing_twice(cells):
    assert stdout(cells["passes"]) == "checked\nPASSED (visible checks) ones: values (5 points)\n"
    assert errors(cells["passes"]) == []


def test_cells_that_are_no_test_or_fail_print_no_pass_line(cells):
    for name in ("import", "reimport", "quiet"):
        assert cells[name].outputs == [], name
    for name in ("fails", "gradcheck", "plain", "raises"):
        assert "PASSED" not in stdout(cells[name]), name


def test_a_failed_assert_close_shows_the_message_first_and_no_i2dl_frames(cells):
    cell = cells["fails"]
    x = np.array([[1.0, 2.0], [3.0, 4.0]])
    expected_message = message(2 * x, x, name="f(x)")
    (error,) = errors(cell)

    assert (error.ename, error.evalue) == ("AssertionError", expected_message)
    assert traceback_text(cell) == "\n".join([
        f"AssertionError: {expected_message}",
        "",
        "The failed check (i2dl's own code left out):",
        f"Cell In[{cell.execution_count}], line 3",
        '      1 """scaled (10 points)"""',
        "      2 x = np.array([[1.0, 2.0], [3.0, 4.0]])",
        '----> 3 assert_close(2 * x, x, name="f(x)")',
    ])


def test_a_failed_gradient_check_hides_gradcheck_frames(cells):
    cell = cells["gradcheck"]
    text = traceback_text(cell)

    assert text.startswith("AssertionError: ")
    assert "gradcheck.py" not in text and "testing.py" not in text
    assert text.endswith(
        f"Cell In[{cell.execution_count}], line 2\n"
        '      1 """gradient (10 points)"""\n'
        "----> 2 check_gradients(lambda x: (2 * x, None),\n"
        '      3                 lambda dout, cache: dout.copy(), {"x": np.ones((2, 2))})'
    )


def test_a_plain_assert_in_a_test_cell_is_shown_message_first(cells):
    cell = cells["plain"]

    assert traceback_text(cell) == "\n".join([
        "AssertionError: arithmetic is broken",
        "",
        "The failed check (i2dl's own code left out):",
        f"Cell In[{cell.execution_count}], line 2",
        '      1 """plain assert (1 point)"""',
        '----> 2 assert 1 + 1 == 3, "arithmetic is broken"',
    ])


def test_an_assert_in_the_students_own_function_keeps_ipythons_traceback(cells):
    text = traceback_text(cells["own"])

    assert "Traceback (most recent call last)" in text
    assert "in mine()" in text
    assert text.endswith("AssertionError: my own assert")


def test_other_errors_keep_ipythons_traceback(cells):
    text = traceback_text(cells["raises"])

    assert "Traceback (most recent call last)" in text
    assert text.endswith("ValueError: boom")


def test_without_the_handler_ipython_hides_the_marked_frames_except_the_last(cells):
    # What IPython (9.x as installed) does with __tracebackhide__ alone: assert_close's frame is
    # skipped, but the innermost frame, the one that raised, is always shown.
    text = traceback_text(cells["other_handler"])

    assert "[... skipping hidden 1 frame]" in text
    assert "in assert_close(" not in text
    assert "in _check_array(" in text
    assert text.endswith("AssertionError: " + message(
        2 * np.array([[1.0, 2.0], [3.0, 4.0]]), np.array([[1.0, 2.0], [3.0, 4.0]]), name="f(x)"))


def test_every_released_test_cell_gets_a_pass_line():
    repo = Path(__file__).resolve().parents[2]
    cells = [(path.stem, cell) for path in sorted(repo.glob("exercises/*/*.ipynb"))
             for cell in nbformat.read(path, as_version=4).cells if is_test_cell(cell)]

    assert len(cells) >= 100
    assert [(nb, c.metadata.nbgrader["grade_id"]) for nb, c in cells
            if pass_line(c.source) is None] == []
