"""Scoring rules and output caps, on hand-made cells (no kernel)."""

from __future__ import annotations

import nbformat
import pytest

from grader.scoring import CapOutputBytes, outcome_score

pytestmark = pytest.mark.grader


def _test_cell(outputs):
    cell = nbformat.v4.new_code_cell("assert True")
    cell.metadata["nbgrader"] = {"grade": True, "solution": False, "grade_id": "t",
                                 "points": 7, "locked": True, "schema_version": 3}
    cell.outputs = [nbformat.from_dict(o) for o in outputs]
    return cell


def test_stderr_and_warnings_do_not_cost_points():
    cell = _test_cell([{"output_type": "stream", "name": "stderr", "text": "UserWarning: hi\n"}])
    assert outcome_score(cell) == 7


def test_an_error_output_scores_zero():
    cell = _test_cell([{"output_type": "error", "ename": "AssertionError", "evalue": "",
                        "traceback": []}])
    assert outcome_score(cell) == 0


def test_a_number_shown_as_result_is_not_partial_credit():
    cell = _test_cell([{"output_type": "execute_result", "execution_count": 1, "metadata": {},
                        "data": {"text/plain": "0.5"}}])
    assert outcome_score(cell) == 7


def test_output_cap_keeps_errors_and_notes_what_was_dropped():
    cell = _test_cell([
        {"output_type": "stream", "name": "stdout", "text": "a" * 150},
        {"output_type": "stream", "name": "stdout", "text": "b" * 100},
        {"output_type": "display_data", "metadata": {}, "data": {"text/plain": "c" * 500}},
        {"output_type": "error", "ename": "ValueError", "evalue": "x", "traceback": []},
    ])
    capped, _ = CapOutputBytes(max_bytes=200).preprocess_cell(cell, {}, 0)
    kinds = [o["output_type"] for o in capped.outputs]
    assert kinds == ["stream", "stream", "error", "stream"]
    assert capped.outputs[0]["text"] == "a" * 150
    assert capped.outputs[1]["text"] == "b" * 50
    assert "550 more bytes" in capped.outputs[-1]["text"]
