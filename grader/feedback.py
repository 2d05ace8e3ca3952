"""Feedback HTML that students receive: scores and their own code, never hidden tests.

nbgrader's autograded notebook carries the full test cells (hidden parts included) and complete
tracebacks, which quote the hidden line that failed. Before rendering, test cells lose their
hidden regions and their error outputs are reduced to the exception's name and message.
"""

from __future__ import annotations

import os
from pathlib import Path

from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor, Preprocessor
from nbconvert.writers import FilesWriter
from nbgrader.converters import GenerateFeedback
from nbgrader.preprocessors import GetGrades

from grader.course import make_coursedir, quiet_nbgrader
from grader.integrity import is_test_cell
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


class _ReusedExporterFeedback(GenerateFeedback):
    """GenerateFeedback that keeps its HTML exporter between runs.

    nbgrader builds a new exporter on every ``start()``, which recompiles the HTML templates:
    about half a second per student. One exporter serves every student of a worker.
    """

    _reused_exporter = None

    def start(self) -> None:
        self.init_notebooks()
        self.writer = FilesWriter(parent=self, config=self.config)
        if self._reused_exporter is None:
            self._reused_exporter = self.exporter_class(parent=self, config=self.config)
            for pp in self.preprocessors:
                self._reused_exporter.register_preprocessor(pp)
        self.exporter = self._reused_exporter
        here = os.getcwd()
        os.chdir(self.coursedir.root)
        try:
            self.convert_notebooks()
        finally:
            os.chdir(here)


class FeedbackWriter:
    """Renders feedback HTML for one autograded exercise of one student at a time."""

    def __init__(self, config, log_file: Path) -> None:
        config = config.copy()
        config.GenerateFeedback.preprocessors = [
            GetGrades,
            RedactHiddenTests,
            CSSHTMLHeaderPreprocessor,
        ]
        config.GenerateFeedback.force = True
        self.coursedir = make_coursedir(config)
        self.converter = _ReusedExporterFeedback(
            coursedir=self.coursedir, config=config, log=quiet_nbgrader(log_file)
        )

    def write(self, student: str, exercise: str) -> None:
        self.coursedir.student_id = student
        self.coursedir.assignment_id = exercise
        self.converter.start()
