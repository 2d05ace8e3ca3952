"""The lectures' outputs are checked in the browser run, and the check is nbval's.

``make test`` runs each lecture once, in JupyterLab, and compares that run's outputs with the
stored ones as nbval would (``_stored_outputs``). Here: a lecture (without a widget: it is
still run and compared) whose stored number is wrong fails the lecture check, naming the cell
and showing what was expected and what the run gave, while the same lecture with the right
number passes (the real lectures pass in ``test_lectures_*.py``, and
``tests/lectures/test_stored_outputs.py`` feeds lecture 01's stored outputs, and a changed
copy, to the comparison); and on a notebook made of the cases where JupyterLab's output model
and nbval part ways (``\\r``, ``clear_output``, display updates, output captured by an
``ipywidgets.Output``, nbval's tags ...) the check fails exactly the cells that real nbval fails.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from tests.browser._lecture_check import check_lecture, run_like_nbval
from tests.browser._stored_outputs import SANITIZE_FILE, nbval_failures
from tests.lectures.test_stored_outputs import WIDGET_MIME, display, result, stream

TRICKY = "tricky.ipynb"
# A 1x1 PNG, and the same with other pixel data (nbval does not compare images).
PNG = (
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
)
OTHER_PNG = (
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg=="
)


def widget_view(text: str) -> dict[str, Any]:
    view = {"model_id": "0123456789abcdef0123456789abcdef", "version_major": 2, "version_minor": 0}
    return {WIDGET_MIME: view, "text/plain": text}


SETUP = "import base64\nimport random\nimport sys\n\nimport ipywidgets as widgets\n" \
        "from IPython.display import HTML, Image, Math, clear_output, display"
CR = 'print("abcdef\\rXY")'
CRLF = 'print("x\\r")'
CLEAR = 'print("old")\nclear_output()\nprint("new")'
UPDATE = 'handle = display("first", display_id=True)\nhandle.update("second")'
CAPTURE = 'out = widgets.Output()\ndisplay(out)\nwith out:\n    print("captured")'
STREAMS = 'print("a")\nprint("e", file=sys.stderr)\nprint("b")'
HTML_CELL = 'display(HTML("<b>bold</b>"))\nHTML("<i>it</i>")'
HTML_PLAIN = "<IPython.core.display.HTML object>"
LATEX = 'Math("x^2")'
LATEX_PLAIN = "<IPython.core.display.Math object>"
SLIDER = "widgets.IntSlider(value=3)"
IMAGE = f'Image(data=base64.b64decode("{PNG}"), format="png")'
IMAGE_PLAIN = "<IPython.core.display.Image object>"
RANDOM = "print(random.random())"
RAISE = 'raise ValueError("expected")'

# (source, tags, stored outputs, whether nbval accepts the cell); a stored execution count of
# None where the tags say "unrun". Cells come in pairs: the outputs nbval sees, then (mostly)
# what JupyterLab's output model shows, which nbval rejects.
CELLS: list[tuple[str, list[str], list[Any], bool]] = [
    (SETUP, [], [], True),
    ('raise RuntimeError("nbval does not run this cell")', ["nbval-skip"], [], True),
    (CR, [], [stream("XY\n")], True),
    (CR, [], [stream("XYcdef\n")], False),
    (CRLF, [], [stream("x\r\n")], True),
    (CRLF, [], [stream("x\n")], False),
    (CLEAR, [], [stream("old\n"), stream("new\n")], True),
    (CLEAR, [], [stream("new\n")], False),
    (UPDATE, [], [display({"text/plain": "'first'"})], True),
    (UPDATE, [], [display({"text/plain": "'second'"})], False),
    (CAPTURE, [], [display(widget_view("Output()")), stream("captured\n")], True),
    (CAPTURE, [], [display(widget_view("Output()"))], False),
    (STREAMS, [], [stream("a\n"), stream("e\n", "stderr"), stream("b\n")], True),
    (STREAMS, [], [stream("b\n"), stream("e\n", "stderr"), stream("a\n")], False),
    (HTML_CELL, [], [display({"text/html": "<b>bold</b>", "text/plain": HTML_PLAIN}),
                     display({"text/html": "<i>it</i>", "text/plain": HTML_PLAIN}, {"x": 1})],
     True),
    (HTML_CELL, [], [display({"text/html": "<b>bold</b>", "text/plain": HTML_PLAIN}),
                     result({"text/html": "<i>other</i>", "text/plain": HTML_PLAIN})], False),
    (LATEX, [], [result({"text/latex": "$\\displaystyle x^2$", "text/plain": LATEX_PLAIN})],
     True),
    (LATEX, [], [result({"text/latex": "$\\displaystyle x^3$", "text/plain": LATEX_PLAIN})],
     False),
    (SLIDER, [], [result(widget_view("IntSlider(value=3)"))], True),
    (SLIDER, [], [result(widget_view("IntSlider(value=4)"))], False),
    (IMAGE, [], [result({"image/png": OTHER_PNG, "text/plain": IMAGE_PLAIN})], True),
    (IMAGE, [], [result({"image/png": PNG, "image/svg+xml": "<svg/>",
                         "text/plain": IMAGE_PLAIN})], False),
    ("print(object())", [], [stream("<object object at 0x7f0000000000>\n")], True),
    ("print(object())", [], [stream("<object object at 0x7f>\n")], False),
    (RANDOM, ["nbval-ignore-output"], [stream("0.5\n")], True),
    (RANDOM, [], [stream("0.5\n")], False),
    (f"# NBVAL_IGNORE_OUTPUT\n{RANDOM}", [], [stream("0.5\n")], True),
    (RAISE, ["nbval-raises-exception"],
     [new_output("error", ename="ValueError", evalue="expected", traceback=[])], True),
    (RAISE, ["nbval-raises-exception"],
     [new_output("error", ename="ValueError", evalue="unexpected", traceback=[])], False),
    ('print("still running")', [], [stream("still running\n")], True),
    ('print("never stored")', ["unrun"], [], True),
    ('print("never stored")', ["unrun"], [stream("never stored\n")], False),
    ('print("ab\\bc")', [], [stream("ab\bc\n")], True),
    ('print("ab\\bc")', [], [stream("ac\n")], False),
]


def tricky_notebook() -> Any:
    cells = [new_markdown_cell("Outputs on which JupyterLab and nbval part ways.")]
    count = 0
    for source, tags, outputs, _ in CELLS:
        unrun = "unrun" in tags
        count += not unrun
        cell = new_code_cell(source, outputs=outputs, execution_count=None if unrun else count)
        if [tag for tag in tags if tag != "unrun"]:
            cell.metadata["tags"] = [tag for tag in tags if tag != "unrun"]
        cells.append(cell)
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = KERNELSPEC
    nbformat.validate(nb)
    return nb


# Without a kernelspec JupyterLab would ask which kernel to start.
KERNELSPEC = {"name": "python3", "display_name": "Python 3", "language": "python"}


def lecture_without_widget(stored: str) -> Any:
    cell = new_code_cell("print(6 * 7)", outputs=[stream(stored)], execution_count=1)
    nb = new_notebook(cells=[new_markdown_cell("# No widget"), cell])
    nb.metadata["kernelspec"] = KERNELSPEC
    return nb


@pytest.fixture(scope="module")
def served(shared_course_copy) -> Path:
    """The session's shared folder (served to the lecture checks too, when this worker runs
    some) with two lectures without a widget (one storing a wrong number) added to its
    ``lectures/``, and the tricky notebook (lecture numbers 98 and 99 are no real lecture's)."""
    root = shared_course_copy("lectures")
    nbformat.write(lecture_without_widget("42\n"), root / "lectures" / "98_plain.ipynb")
    nbformat.write(lecture_without_widget("41\n"), root / "lectures" / "99_plain_wrong.ipynb")
    nbformat.write(tricky_notebook(), root / TRICKY)
    return root


def test_a_changed_stored_number_fails_the_lecture_check_and_the_right_one_passes(
    served, jupyter_server, shared_lab_page
):
    lab = shared_lab_page(jupyter_server(served))
    log = check_lecture(lab, "98_plain")  # a lecture without a widget is run and compared too
    assert "98_plain: every output as stored (compared as nbval compares them)" in log
    lab.close_notebook()
    with pytest.raises(AssertionError) as failure:
        check_lecture(lab, "99_plain_wrong")
    message = str(failure.value)
    assert "lectures/99_plain_wrong.ipynb: 1 code cell(s) of the JupyterLab run" in message
    assert "Cell 0 (notebook cell 1): Cell outputs differ\nmismatch 'stdout'" in message, message
    expected, _, got = message.partition("expected (stored):")[2].partition("got (run):")
    assert "41" in expected and "42" not in expected, message
    assert "42" in got.partition("diff:")[0], message
    assert "-41" in message and "+42" in message, message
    assert "print(6 * 7)" in message, message  # the cell's source, as nbval shows it


def nbval_verdicts(notebook: Path) -> subprocess.Popen[str]:
    """Start real nbval (as ``make test`` ran it on the lectures) on ``notebook``."""
    config = notebook.parent / "pytest.ini"
    config.write_text("[pytest]\n")
    return subprocess.Popen(
        [sys.executable, "-m", "pytest", "-v", "-p", "no:cacheprovider", "-c", str(config),
         "--nbval", "--nbval-current-env", "--nbval-cell-timeout=120",
         "--nbval-sanitize-with", str(SANITIZE_FILE), str(notebook)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=notebook.parent,
    )


def test_the_check_fails_the_cells_nbval_fails(
    served, tmp_path, jupyter_server, shared_lab_page
):
    copy = tmp_path / TRICKY
    copy.write_bytes((served / TRICKY).read_bytes())
    nbval = nbval_verdicts(copy)  # runs while JupyterLab runs the same notebook
    try:
        lab = shared_lab_page(jupyter_server(served))
        runs = run_like_nbval(lab, TRICKY, timeout_s=120)
    finally:
        output = nbval.communicate(timeout=300)[0]

    found = re.findall(r"::Cell (\d+) (PASSED|FAILED|SKIPPED)\b", output)
    verdicts = {int(number): verdict for number, verdict in found}
    assert len(verdicts) == len(CELLS), output[-3000:]
    nbval_failed = {n for n, verdict in verdicts.items() if verdict == "FAILED"}
    expected = {n for n, (_, _, _, accepted) in enumerate(CELLS) if not accepted}
    assert nbval_failed == expected, (
        f"real nbval failed cells {sorted(nbval_failed)}, this test expects {sorted(expected)}:\n"
        f"{output[-6000:]}"
    )
    failures = nbval_failures(served / TRICKY, runs)
    assert {f.cell for f in failures} == nbval_failed, "\n\n".join(
        f.describe() for f in failures
    )
