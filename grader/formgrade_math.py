"""Math on Formgrader's pages without a CDN: LaTeX becomes MathML when the page is rendered.

nbgrader's Formgrader renders each hand-in with nbconvert's HTML exporter, whose template loads
MathJax 2 from cdnjs; offline (a lab without internet, an exam room) the instructor sees raw
``$...$``. ``i2dl-grader lab`` configures that exporter (:func:`grader.labconfig.lab_config`)
with :class:`MathMLPreprocessor`, which writes each formula of the markdown cells as MathML
with the same converter as the feedback pages (:func:`grader.feedback.latex_to_mathml`), and
with a template folder searched first whose ``mathjax`` macro loads nothing.
"""

from __future__ import annotations

import re
from pathlib import Path

from nbconvert.preprocessors import Preprocessor

from grader.feedback import MATH, latex_to_mathml

# Searched before nbgrader's own `formgrade` template folder (HTMLExporter.extra_template_basedirs).
TEMPLATES = Path(__file__).parent / "templates"


def markdown_with_mathml(source: str) -> str:
    """``source`` with every formula outside code replaced by its MathML."""

    def convert(match: re.Match) -> str:
        if match.group("code") is not None:
            return match.group(0)
        if match.group("display") is not None:
            return "\n\n" + latex_to_mathml(match.group("display"), display=True) + "\n\n"
        return latex_to_mathml(match.group("inline"))

    return MATH.sub(convert, source)


class MathMLPreprocessor(Preprocessor):
    """Markdown cells with their formulas as MathML (for HTML without MathJax)."""

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type == "markdown" and "$" in cell.source:
            cell.source = markdown_with_mathml(cell.source)
        return cell, resources
