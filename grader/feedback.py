"""Feedback HTML that students receive: scores and their own code, never hidden tests.

nbgrader's autograded notebook carries the full test cells (hidden parts included) and complete
tracebacks, which quote the hidden line that failed. Before rendering, test cells lose their
hidden regions and their error outputs are reduced to the exception's name and message.
"""

from __future__ import annotations

from pathlib import Path

from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor, Preprocessor
from nbgrader.converters import GenerateFeedback
from nbgrader.preprocessors import GetGrades

from grader.course import make_coursedir, quiet_nbgrader
from grader.release import HIDDEN_MARKERS

REDACTED = "# (hidden tests were run here; they are not shown)"


def redact_hidden(source: str) -> str:
    """Remove every hidden-test region; an unterminated region runs to the end of the cell."""
    begin, end = HIDDEN_MARKERS
    kept: list[str] = []
    hiding = False
    for line in source.split("\n"):
        if begin in line:
            if not hiding:
                kept.append(REDACTED)
            hiding = True
        elif end in line and hiding:
            hiding = False
        elif not hiding:
            kept.append(line)
    return "\n".join(kept)


def is_test_cell(cell) -> bool:
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return bool(meta.get("grade")) and not meta.get("solution") and cell.get("cell_type") == "code"


class RedactHiddenTests(Preprocessor):
    """Strip hidden tests from test cells and shorten their error outputs."""

    enabled = True  # nbconvert skips preprocessors that are not explicitly enabled

    def preprocess_cell(self, cell, resources, index):
        if is_test_cell(cell):
            cell.source = redact_hidden(cell.source)
            for output in cell.get("outputs", []):
                if output.get("output_type") == "error":
                    message = f"{output.get('ename', 'Error')}: {output.get('evalue', '')}".strip()
                    output["traceback"] = [message]
        return cell, resources


def generate_feedback(config, student: str, exercise: str, log_file: Path) -> None:
    """Render feedback HTML for every autograded notebook of one student's exercise."""
    config = config.copy()
    config.GenerateFeedback.preprocessors = [
        GetGrades,
        RedactHiddenTests,
        CSSHTMLHeaderPreprocessor,
    ]
    config.GenerateFeedback.force = True
    coursedir = make_coursedir(config)
    coursedir.student_id = student
    coursedir.assignment_id = exercise
    GenerateFeedback(coursedir=coursedir, config=config, log=quiet_nbgrader(log_file)).start()
