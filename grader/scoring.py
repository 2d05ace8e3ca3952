"""Scoring on outcomes: a test cell earns its points when it ran without an error.

Stock nbgrader also gives zero to a test cell that wrote anything to stderr (so correct code that
emits a ``DeprecationWarning`` loses the points) and turns a number shown as the cell's result
into partial credit. Here only the outcome counts: an error output means zero, anything else
full marks. Outputs are also capped in bytes per cell, so a submission that prints megabytes
cannot bloat the autograded notebook or the feedback.
"""

from __future__ import annotations

import nbformat
from nbconvert.preprocessors import Preprocessor
from nbgrader import utils
from nbgrader.api import Gradebook
from nbgrader.preprocessors import SaveAutoGrades
from traitlets import Integer

TRUNCATION_NOTE = "\n[... output truncated by the grader: {dropped} more bytes ...]\n"


def outcome_score(cell) -> float | None:
    """Points a graded cell earns from its outputs (None: needs manual grading)."""
    meta = cell.metadata["nbgrader"]
    if cell.cell_type == "code" and not meta.get("solution"):
        failed = any(out.get("output_type") == "error" for out in cell.get("outputs", []))
        return 0.0 if failed else float(meta["points"])
    score, _ = utils.determine_grade(cell)
    return score


class SaveOutcomeGrades(SaveAutoGrades):
    """nbgrader's SaveAutoGrades with :func:`outcome_score` as the grading rule.

    The notebook's grade and comment rows are loaded once and its scores committed together,
    instead of one query and one commit per cell.
    """

    def preprocess(self, nb, resources):
        ids = resources["nbgrader"]
        self.notebook_id, self.assignment_id = ids["notebook"], ids["assignment"]
        self.student_id, self.db_url = ids["student"], ids["db_url"]
        self.gradebook = Gradebook(self.db_url)
        with self.gradebook:
            submitted = self.gradebook.find_submission_notebook(
                self.notebook_id, self.assignment_id, self.student_id
            )
            self._grades = {grade.name: grade for grade in submitted.grades}
            self._comments = {comment.name: comment for comment in submitted.comments}
            for index, cell in enumerate(nb.cells):
                nb.cells[index], resources = self.preprocess_cell(cell, resources, index)
            self.gradebook.db.commit()
        return nb, resources

    def _add_comment(self, cell, resources) -> None:
        comment = self._comments[cell.metadata["nbgrader"]["grade_id"]]
        unchanged = cell.metadata.nbgrader.get("checksum", None) == utils.compute_checksum(cell)
        comment.auto_comment = "No response." if unchanged and not utils.is_task(cell) else None

    def _add_score(self, cell, resources) -> None:
        grade = self._grades[cell.metadata["nbgrader"]["grade_id"]]
        grade.auto_score = outcome_score(cell)
        grade.needs_manual_grade = grade.manual_score is not None or grade.auto_score is None


class CapOutputBytes(Preprocessor):
    """Keep at most ``max_bytes`` of output per code cell; say how much was dropped.

    Error outputs are always kept (they decide the verdict); streams are cut at the budget and
    rich outputs (displays, results) that do not fit are replaced by the note.
    """

    enabled = True
    max_bytes = Integer(64 * 1024, help="Bytes of output kept per cell").tag(config=True)

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type != "code":
            return cell, resources
        budget, dropped, kept = self.max_bytes, 0, []
        for output in cell.get("outputs", []):
            kind = output.get("output_type")
            if kind == "error":
                kept.append(output)
            elif kind == "stream":
                data = output.get("text", "").encode("utf-8", errors="replace")
                if len(data) > budget:
                    dropped += len(data) - budget
                    data = data[:budget]
                    output["text"] = data.decode("utf-8", errors="ignore")
                budget -= len(data)
                if data:
                    kept.append(output)
            else:
                size = sum(len(str(v).encode("utf-8")) for v in output.get("data", {}).values())
                if size > budget:
                    dropped += size
                else:
                    budget -= size
                    kept.append(output)
        if dropped:
            note = TRUNCATION_NOTE.format(dropped=dropped)
            kept.append({"output_type": "stream", "name": "stdout", "text": note})
        cell.outputs = [nbformat.from_dict(o) for o in kept]
        return cell, resources
