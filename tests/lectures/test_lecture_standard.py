"""Every lecture meets the course standard: prose, figures, a widget, questions with answers.

The browser tests (``tests/browser/test_lectures_*.py``, in ``make test``) run each lecture once
and check that its stored outputs are reproduced, compared as nbval compares them; these tests
check what a lecture must contain, on the stored notebook.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

pytestmark = pytest.mark.lectures

LECTURES = sorted((Path(__file__).parents[2] / "lectures").glob("[0-9][0-9]_*.ipynb"))
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"

MIN_WORDS = 3000
MIN_FIGURES = 2


def prose_words(markdown: str) -> int:
    """Words of explanation: math, code, HTML tags and link targets do not count."""
    text = re.sub(r"```.*?```", " ", markdown, flags=re.S)
    text = re.sub(r"\$\$.*?\$\$", " ", text, flags=re.S)
    text = re.sub(r"\$[^$\n]+\$", " ", text)
    text = re.sub(r"`[^`\n]*`", " ", text)
    text = re.sub(r"<[^>]+>", " ", text)
    text = re.sub(r"\]\([^)]*\)", "]", text)
    return len(re.findall(r"[A-Za-z][A-Za-z'-]*", text))


def outputs(nb) -> list[dict]:
    return [out for cell in nb.cells if cell.cell_type == "code" for out in cell.get("outputs", [])]


def numbered_items(markdown: str) -> list[int]:
    return [int(m) for m in re.findall(r"^(\d+)\.\s", markdown, flags=re.M)]


@pytest.fixture(params=LECTURES, ids=[p.stem for p in LECTURES])
def lecture(request):
    return nbformat.read(request.param, as_version=4)


def test_there_are_lectures():
    assert len(LECTURES) >= 7


def test_enough_own_explanation(lecture):
    words = sum(prose_words(c.source) for c in lecture.cells if c.cell_type == "markdown")
    assert words >= MIN_WORDS, f"{words} words of explanation, the standard is {MIN_WORDS}"


def test_figures_and_a_widget_with_a_static_fallback(lecture):
    figures = [o for o in outputs(lecture) if "image/png" in o.get("data", {})
               and WIDGET_MIME not in o.get("data", {})]
    widgets = [o for o in outputs(lecture) if WIDGET_MIME in o.get("data", {})]
    assert len(figures) >= MIN_FIGURES, f"{len(figures)} stored figures, need {MIN_FIGURES}"
    assert widgets, "no ipywidgets demo in the stored outputs"
    for widget in widgets:
        assert "image/png" in widget["data"], "a widget output without its static PNG fallback"


def test_every_code_cell_was_executed_in_order(lecture):
    counts = [c.execution_count for c in lecture.cells if c.cell_type == "code"]
    assert None not in counts, "a code cell without stored output: run `make lectures`"
    assert counts == list(range(1, len(counts) + 1)), "stored outputs are not from one clean run"


def test_questions_with_answers(lecture):
    markdown = [c.source for c in lecture.cells if c.cell_type == "markdown"]
    start = next((i for i, s in enumerate(markdown)
                  if re.search(r"^#+ .*check your understanding", s, flags=re.I | re.M)), None)
    assert start is not None, "no 'Check your understanding' section"
    rest = "\n".join(markdown[start:])
    head, sep, answers = rest.partition("<details>")
    assert sep, "the answers should follow the questions in a collapsed <details> block"
    questions = numbered_items(head)
    assert len(questions) >= 3, f"only {len(questions)} questions"
    assert numbered_items(answers)[: len(questions)] == questions, \
        "every question needs a numbered answer"
