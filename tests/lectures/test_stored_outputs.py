"""The browser lecture check compares outputs as nbval does (``tests/browser/_stored_outputs.py``).

In-process and without a browser or kernel: the comparison is checked against nbval's own
``IPyNbCell.compare_outputs`` on pairs of outputs, and the message handling, the cell options and
the whole-notebook verdict on hand-made kernel messages. The browser side (that the messages
recorded in JupyterLab give the verdict nbval gives on a real run) is checked by
``tests/browser/test_stored_outputs_check.py``.
"""

from __future__ import annotations

import copy
import json
from collections import OrderedDict
from types import SimpleNamespace
from typing import Any

import nbformat
import pytest
from nbformat import NotebookNode
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output
from nbval.plugin import IPyNbCell, IPyNbFile, coalesce_streams, get_sanitize_patterns, nocolors

from tests.browser._stored_outputs import (
    SANITIZE_FILE,
    SKIP_COMPARE,
    cell_run,
    cells_nbval_lets_raise,
    cells_nbval_skips,
    compare_outputs,
    describe_failures,
    load_sanitize_patterns,
    nbval_failures,
    nbval_options,
    sanitize,
)
from tests.lectures.test_nbval_bites import LECTURE, _change_first_stored_number

pytestmark = pytest.mark.lectures

WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
PATTERNS = load_sanitize_patterns()


def stream(text: str, name: str = "stdout") -> NotebookNode:
    return new_output("stream", name=name, text=text)


def display(data: dict[str, Any], metadata: dict[str, Any] | None = None) -> NotebookNode:
    return new_output("display_data", data=data, metadata=metadata or {})


def result(data: dict[str, Any], count: int = 1) -> NotebookNode:
    return new_output("execute_result", data=data, metadata={}, execution_count=count)


def error(ename: str, evalue: str, traceback: list[str] | None = None) -> NotebookNode:
    return new_output("error", ename=ename, evalue=evalue, traceback=traceback or ["tb"])


def widget(model_id: str, text: str) -> dict[str, Any]:
    view = {"model_id": model_id, "version_major": 2, "version_minor": 0}
    return {WIDGET_MIME: view, "text/plain": text, "image/png": "iVBORw0KGgo" + model_id}


# (stored outputs, outputs of the run, whether nbval accepts the run).
CASES: dict[str, tuple[list[NotebookNode], list[NotebookNode], bool]] = {
    "same stream": ([stream("1.5\n")], [stream("1.5\n")], True),
    "changed number": ([stream("loss 1.5\n")], [stream("loss 2.5\n")], False),
    "stream split differently": (
        [stream("a\n"), stream("b\nc\n")], [stream("a\nb\n"), stream("c\n")], True),
    "streams merged across a display": (
        [stream("a\n"), display({"text/plain": "fig"}), stream("b\n")],
        [stream("a\nb\n"), display({"text/plain": "fig"})], True),
    "stdout is not stderr": ([stream("a\n")], [stream("a\n", "stderr")], False),
    "stderr compared too": (
        [stream("a\n"), stream("w\n", "stderr")], [stream("a\n"), stream("x\n", "stderr")],
        False),
    "carriage return resolved on both sides": (
        [stream("XY\n")], [stream("abcdef\r"), stream("XY\n")], True),
    "carriage return as JupyterLab shows it": (
        [stream("XYcdef\n")], [stream("abcdef\rXY\n")], False),
    "carriage return before newline kept": ([stream("x\n")], [stream("x\r\n")], False),
    # nbval 0.11's coalesce_streams means to resolve backspaces, but its loop never runs.
    "backspace kept": ([stream("ac\n")], [stream("ab\bc\n")], False),
    "backspace kept on both sides": ([stream("ab\bc\n")], [stream("ab\bc\n")], True),
    "execute_result against display_data": (
        [display({"text/plain": "42"})], [result({"text/plain": "42"}, count=7)], True),
    "metadata ignored": (
        [display({"text/plain": "x"}, {"width": 3})], [display({"text/plain": "x"})], True),
    "image bytes ignored": (
        [display({"image/png": "AAAA", "text/plain": "<Figure>"})],
        [display({"image/png": "BBBB", "text/plain": "<Figure>"})], True),
    "an image missing from the run ignored": (
        [display({"image/png": "AAAA", "text/plain": "<Figure>"})],
        [display({"text/plain": "<Figure>"})], True),
    "figure text compared": (
        [display({"image/png": "AAAA", "text/plain": "<Figure size 640x480 with 1 Axes>"})],
        [display({"image/png": "AAAA", "text/plain": "<Figure size 640x480 with 2 Axes>"})],
        False),
    "widget model id ignored": (
        [result(widget("aaaa", "IntSlider(value=3)"))],
        [result(widget("bbbb", "IntSlider(value=3)"))], True),
    "widget text compared": (
        [result(widget("aaaa", "IntSlider(value=3)"))],
        [result(widget("aaaa", "IntSlider(value=4)"))], False),
    "html compared": (
        [display({"text/html": "<b>1</b>", "text/plain": "x"})],
        [display({"text/html": "<b>2</b>", "text/plain": "x"})], False),
    "latex compared": (
        [display({"text/latex": "$x^2$", "text/plain": "x"})],
        [display({"text/latex": "$x^3$", "text/plain": "x"})], False),
    "json compared": (
        [display({"application/json": {"a": 1}})], [display({"application/json": {"a": 2}})],
        False),
    "a mime type missing from the run": (
        [display({"text/html": "<b>1</b>", "text/plain": "x"})], [display({"text/plain": "x"})],
        False),
    "an unexpected mime type": (
        [display({"text/plain": "x"})], [display({"text/html": "<b>1</b>", "text/plain": "x"})],
        False),
    "an extra display": (
        [display({"text/plain": "x"})],
        [display({"text/plain": "x"}), display({"text/plain": "y"})], False),
    "order of different keys ignored": (
        [display({"text/plain": "x"}), stream("a\n")],
        [stream("a\n"), display({"text/plain": "x"})], True),
    "order of one key kept": (
        [display({"text/plain": "x"}), display({"text/plain": "y"})],
        [display({"text/plain": "y"}), display({"text/plain": "x"})], False),
    "address sanitised": (
        [stream("<object at 0x7f0000000000>\n")], [stream("<object at 0x7fd3a1b2c3d4>\n")], True),
    "short hex not sanitised": ([stream("0x7f\n")], [stream("0x7e\n")], False),
    "error traceback ignored": (
        [error("ValueError", "bad", ["one"])], [error("ValueError", "bad", ["two"])], True),
    "error value compared": ([error("ValueError", "bad")], [error("ValueError", "worse")], False),
    "nothing and nothing": ([], [], True),
    "output where none is stored": ([], [stream("x\n")], False),
}


class NbvalCell:
    """Just enough of an ``nbval.plugin.IPyNbCell`` to call its comparison methods."""

    colors = nocolors
    compare_outputs = IPyNbCell.compare_outputs
    format_output_compare = IPyNbCell.format_output_compare
    sanitize = IPyNbCell.sanitize

    def __init__(self, patterns: dict[str, str]):
        self.parent = SimpleNamespace(
            skip_compare=SKIP_COMPARE, sanitize_patterns=OrderedDict(patterns)
        )
        self.config = None
        self.ihook = SimpleNamespace(pytest_assertrepr_compare=lambda **_: [])


def nbval_accepts(ref: list[NotebookNode], test: list[NotebookNode]) -> bool:
    ref, test = copy.deepcopy(ref), copy.deepcopy(test)
    return NbvalCell(PATTERNS).compare_outputs(coalesce_streams(test), coalesce_streams(ref))


def our_differences(ref: list[NotebookNode], test: list[NotebookNode]) -> list[str]:
    ref, test = copy.deepcopy(ref), copy.deepcopy(test)
    return compare_outputs(coalesce_streams(test), coalesce_streams(ref), PATTERNS)


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_the_comparison_agrees_with_nbval(case):
    ref, test, accepted = CASES[case]
    assert nbval_accepts(ref, test) is accepted, "the case's expectation is wrong about nbval"
    differences = our_differences(ref, test)
    assert (differences == []) is accepted, "\n".join(differences)


def test_skipped_keys_are_nbvals(monkeypatch):
    """The keys left out are those nbval's collector leaves out (without --nbdime)."""
    monkeypatch.setattr(pytest.File, "__init__", lambda self, *args, **kwargs: None)
    collector = IPyNbFile.__new__(IPyNbFile)
    option = SimpleNamespace(nbval_lax=False, nbdime=False)
    collector.parent = SimpleNamespace(config=SimpleNamespace(option=option))
    IPyNbFile.__init__(collector)
    assert set(collector.skip_compare) == set(SKIP_COMPARE)


def test_the_sanitize_file_is_read_as_nbval_reads_it():
    text = SANITIZE_FILE.read_text(encoding="utf-8")
    assert PATTERNS == dict(get_sanitize_patterns(text))
    assert PATTERNS, f"{SANITIZE_FILE} has no regex/replace pair"
    assert sanitize("at 0x7fd3a1b2c3d4>", PATTERNS) == "at 0xADDRESS>"
    assert sanitize({"not": "a string"}, PATTERNS) == {"not": "a string"}


def test_a_mismatch_names_the_key_and_shows_expected_and_got():
    differences = our_differences([stream("a\nloss 1.5\n")], [stream("a\nloss 2.5\n")])
    text = "\n".join(differences)
    assert differences[0] == "mismatch 'stdout' (output 1 of 1 with this key)"
    assert "expected (stored):\n    a\n    loss 1.5" in text
    assert "got (run):\n    a\n    loss 2.5" in text
    assert "-loss 1.5" in text and "+loss 2.5" in text
    invisible = "\n".join(our_differences([stream("x\n")], [stream("x\r\n")]))
    assert "'x\\n' != 'x\\r\\n'" in invisible


def test_long_base64_is_trimmed_in_messages():
    payload = "QUJD" * 100
    differences = our_differences(
        [display({"application/pdf": payload})], [display({"application/pdf": payload[::-1]})]
    )
    assert "<snip base64, md5=" in "\n".join(differences)
    assert payload not in "\n".join(differences)


def msg(msg_type: str, **content: Any) -> dict[str, Any]:
    return {"msg_type": msg_type, "content": content}


IDLE = msg("status", execution_state="idle")
BUSY = msg("status", execution_state="busy")


def test_the_message_loop_keeps_what_nbval_keeps():
    run = cell_run([
        BUSY,
        msg("execute_input", code="...", execution_count=3),
        msg("stream", name="stdout", text="old\n"),
        msg("clear_output", wait=False),
        msg("stream", name="stdout", text="new\n"),
        msg("display_data", data={"text/plain": "'first'"}, metadata={}, transient={"x": 1}),
        msg("update_display_data", data={"text/plain": "'second'"}, metadata={}),
        msg("comm_open", comm_id="c", target_name="jupyter.widget", data={}),
        msg("comm_msg", comm_id="c", data={}),
        msg("execute_result", data={"text/plain": "1"}, metadata={}, execution_count=3),
        IDLE,
        msg("stream", name="stdout", text="after idle\n"),
    ])
    assert run.finished and run.error is None
    assert [dict(output) for output in run.outputs] == [
        {"output_type": "stream", "name": "stdout", "text": "old\nnew\n"},
        {"output_type": "display_data", "metadata": {}, "data": {"text/plain": "'first'"}},
        {"output_type": "execute_result", "metadata": {}, "data": {"text/plain": "1"},
         "execution_count": 3},
    ]


def test_an_error_ends_the_cell_unless_it_is_expected():
    messages = [
        msg("stream", name="stdout", text="before\n"),
        msg("error", ename="ValueError", evalue="bad", traceback=["line"]),
        msg("stream", name="stdout", text="after\n"),
        IDLE,
    ]
    failed = cell_run(messages)
    assert failed.error is not None and failed.error["evalue"] == "bad"
    expected = cell_run(messages, check_exception=True)
    assert expected.error is None and expected.finished
    assert [o.output_type for o in expected.outputs] == ["stream", "error"]
    assert expected.outputs[0].text == "before\nafter\n"
    assert not cell_run([BUSY, msg("stream", name="stdout", text="x")]).finished


def test_cell_options_come_from_tags_and_comments():
    def options(source: str = "", tags: list[str] | None = None) -> dict[str, bool]:
        cell = new_code_cell(source, metadata={"tags": tags} if tags is not None else {})
        found = nbval_options(cell)
        return {key: found[key] for key in ("check", "skip", "check_exception")}

    assert options() == {"check": True, "skip": False, "check_exception": False}
    assert options(tags=["nbval-ignore-output"])["check"] is False
    assert options(tags=["pytest-validate-ignore-output"])["check"] is False
    assert options(tags=["nbval-skip"])["skip"] is True
    assert options(tags=["nbval-raises-exception"])["check_exception"] is True
    assert options(tags=["raises-exception"])["check_exception"] is True
    assert options("# NBVAL_IGNORE_OUTPUT\nprint(1)")["check"] is False
    assert options("  #  NBVAL_SKIP  \n")["skip"] is True
    assert options("x = 1  # NBVAL_SKIP")["skip"] is False, "a marker must be a whole line"
    # A comment wins over a tag; lax mode checks only cells marked for it.
    assert options("# NBVAL_CHECK_OUTPUT", tags=["nbval-ignore-output"])["check"] is True
    assert nbval_options(new_code_cell("x"), lax=True)["check"] is False
    assert nbval_options(new_code_cell("# NBVAL_CHECK_OUTPUT"), lax=True)["check"] is True


def notebook(*cells: NotebookNode) -> NotebookNode:
    return new_notebook(cells=list(cells))


def code(source: str, outputs: list[NotebookNode], count: int | None = 1,
         tags: list[str] | None = None) -> NotebookNode:
    cell = new_code_cell(source, outputs=outputs, execution_count=count)
    if tags:
        cell.metadata["tags"] = tags
    return cell


def messages_for(*outputs: NotebookNode) -> list[dict[str, Any]]:
    """Kernel messages that produce these outputs."""
    found = [BUSY]
    for output in outputs:
        content = {key: value for key, value in output.items() if key != "output_type"}
        found.append(msg(output.output_type, **content))
    return [*found, IDLE]


def test_the_notebook_verdict_follows_nbvals_cell_rules():
    nb = notebook(
        new_markdown_cell("# not a code cell"),
        code("print(random())", [stream("0.1\n")], tags=["nbval-ignore-output"]),  # Cell 0
        code("raise RuntimeError", [], tags=["nbval-skip"]),  # Cell 1
        code("print('x')", [], count=None),  # Cell 2: never run when stored, not compared
        code("print('y')", [stream("y\n")], count=None),  # Cell 3: never run but has outputs
        code("print('z')", [stream("z\n")]),  # Cell 4: JupyterLab did not run it
        code("   \n", []),  # Cell 5: blank, JupyterLab does not send it
        code("1 / 0", [error("ZeroDivisionError", "division by zero")],
             tags=["nbval-raises-exception"]),  # Cell 6
        code("1 / 0", [error("ZeroDivisionError", "division by zero")]),  # Cell 7: unexpected
        code("print(2)", [stream("2\n")]),  # Cell 8: differs
    )
    runs = {  # notebook index -> what the kernel sent; cells 2, 5 and 6 were not sent
        1: messages_for(stream("0.7\n")),
        3: messages_for(stream("x\n")),
        4: messages_for(stream("y\n")),
        7: messages_for(error("ZeroDivisionError", "division by zero")),
        8: messages_for(error("ZeroDivisionError", "division by zero")),
        9: messages_for(stream("3\n")),
    }
    failures = nbval_failures(nb, runs)
    assert [(f.cell, f.index, f.reason) for f in failures] == [
        (3, 4, "Unrun reference cell has outputs"),
        (4, 5, "the cell was not run"),
        (7, 8, "Cell execution caused an exception"),
        (8, 9, "Cell outputs differ"),
    ]
    message = describe_failures("lectures/x.ipynb", failures)
    assert "Cell 8 (notebook cell 9): Cell outputs differ\nmismatch 'stdout'" in message
    assert "expected (stored):\n    2\n  got (run):\n    3" in message
    assert "  input:\n    print(2)" in message
    assert "ZeroDivisionError: division by zero" in message


def test_a_stored_lecture_accepts_its_own_outputs_and_rejects_a_changed_number():
    """Lecture 01's stored outputs, sent back as kernel messages, pass; a changed one fails."""
    nb = nbformat.read(LECTURE, as_version=4)
    runs = {
        index: messages_for(*cell.outputs)
        for index, cell in enumerate(nb.cells) if cell.cell_type == "code"
    }
    # The run's addresses and widget model ids differ from the stored ones.
    for messages in runs.values():
        for message in messages:
            data = message["content"].get("data", {})
            if WIDGET_MIME in data:
                data[WIDGET_MIME] = {**data[WIDGET_MIME], "model_id": "0" * 32}
    assert nbval_failures(nb, runs) == []

    changed = json.loads(LECTURE.read_text(encoding="utf-8"))
    line = _change_first_stored_number(changed)
    failures = nbval_failures(nbformat.reads(json.dumps(changed), as_version=4), runs)
    assert len(failures) == 1, describe_failures(LECTURE.name, failures)
    assert failures[0].reason == "Cell outputs differ"
    assert any(line in detail for detail in failures[0].details), failures[0].details


def test_skipped_and_raising_cells_are_found_for_the_browser_run():
    nb = notebook(
        new_markdown_cell("text"),
        code("a", [], tags=["nbval-skip"]),
        code("b", [], tags=["nbval-raises-exception"]),
        code("# NBVAL_RAISES_EXCEPTION\nc", []),
        code("d", [], tags=["raises-exception", "nbval-skip"]),
        code("e", []),
    )
    assert cells_nbval_skips(nb) == [1, 4]
    assert cells_nbval_lets_raise(nb) == [2, 3]
