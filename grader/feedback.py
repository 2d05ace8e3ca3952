"""Feedback HTML that students receive: their notebook, their scores, never hidden tests.

One self-contained page per graded notebook: the score and status at the top, a table of the
test cells, then the notebook as it ran. Test cells show only their visible code (hidden
regions are replaced by a note) and, when they failed, the exception's name and message, not
a traceback, and whether a visible check (one the student can run) or a hidden test failed.
Answers graded by hand (a written explanation) are marked as such. Outputs are shown as text and
images only: HTML or JavaScript a notebook produced is not rendered, so a page cannot run code in
the reader's browser. The page is rendered here rather than by nbconvert's lab template (which
needs about 0.15 s per notebook), and it does not depend on the time it was written, so regrading
the same work gives the same file.

Math in markdown (``$...$``, ``$$...$$``) is converted to MathML when the page is written
(latex2mathml), which browsers display natively: the page loads no script, font or style from
anywhere, and reads the same offline. A formula the converter cannot read is shown as its TeX
source, in a code span.
"""

from __future__ import annotations

import functools
import html
import re
from pathlib import Path
from xml.etree.ElementTree import Element, tostring

import mistune
from latex2mathml.converter import convert_to_element
from nbformat import NotebookNode

from grader.hidden import split_regions
from grader.integrity import is_test_cell
from grader.results import NotebookResult, TestResult, format_score

REDACTED = "# (hidden tests were run here; they are not shown)"
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_MARKDOWN = mistune.create_markdown(escape=True)

STYLE = """
body { font-family: system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem;
       color: #1f2328; line-height: 1.5; }
header { border-bottom: 2px solid #d0d7de; margin-bottom: 1.5rem; }
table { border-collapse: collapse; margin: 1rem 0; }
td, th { border: 1px solid #d0d7de; padding: 0.25rem 0.6rem; text-align: left; }
pre { background: #f6f8fa; padding: 0.6rem; overflow-x: auto; border-radius: 4px; }
pre.output { background: #fff; border-left: 3px solid #d0d7de; }
pre.error { background: #fff5f5; border-left: 3px solid #cf222e; }
.cell { margin: 1rem 0; }
.test { border: 1px solid #d0d7de; border-radius: 6px; padding: 0 0.8rem; }
.passed { color: #1a7f37; font-weight: 600; }
.failed { color: #cf222e; font-weight: 600; }
.answer { border: 1px dashed #8250df; border-radius: 6px; padding: 0 0.8rem; }
.manual { color: #8250df; font-weight: 600; }
math[display="block"] { margin: 0.6rem 0; }
"""


def redact_hidden(source: str) -> str:
    """The visible code of a test cell, each hidden region replaced by a note."""
    return "\n".join(REDACTED if hidden else code for hidden, code in split_regions(source))


# Code (fenced blocks and inline spans, opened and closed by equal runs of backticks) and
# escaped dollars are kept as they are; what is left
# between $$ and $$ is display math, between $ and $ (within a paragraph) inline math.
MATH = re.compile(
    r"(?P<code>^(?P<fence>```|~~~).*?^(?P=fence)"
    r"|(?<!`)(?P<ticks>`+)(?!`)(?:(?!\n\s*\n).)+?(?<!`)(?P=ticks)(?!`)|\\\$)"
    r"|\$\$(?P<display>.+?)\$\$|\$(?P<inline>(?:[^$\n]|\n(?!\s*\n))+?)\$",
    re.S | re.M,
)

# MathML attributes the converter writes that only describe layout. Anything else it could be
# told to write by a notebook's TeX (\href's link, \style's CSS that may load a URL) is dropped.
MATHML_ATTRIBUTES = frozenset(
    """xmlns display mathvariant mathcolor mathbackground mathsize stretchy fence form
    separator accent accentunder largeop movablelimits symmetric minsize maxsize lspace rspace
    width height depth linebreak linethickness columnalign columnspacing columnlines
    rowalign rowspacing rowlines displaystyle scriptlevel frame framespacing notation
    open close""".split()
)
# latex2mathml writes characters as numeric references ("&#x0003D;"); serialising the tree
# escapes their "&", which is undone here (a reference only ever stands for a character).
_ESCAPED_REFERENCE = re.compile(r"&amp;(#x[0-9A-Fa-f]+;)")


def _clean_mathml(element: Element) -> None:
    for node in element.iter():
        for name in [a for a in node.attrib if a not in MATHML_ATTRIBUTES]:
            del node.attrib[name]


# Every hand-in of an exercise repeats the release's formulas: convert each once per process.
@functools.lru_cache(maxsize=8192)
def latex_to_mathml(tex: str, display: bool = False) -> str:
    """One formula as a MathML ``<math>`` element; its TeX in a code span if it cannot be read.

    Text in the formula (``\\text{...}``) is escaped: a formula never adds HTML to the page.
    """
    # latex2mathml lays out `split` but not `aligned`, which is the same alignment.
    tex = re.sub(r"\\(begin|end)\{aligned\}", r"\\\1{split}", tex)
    try:
        element = convert_to_element(tex.strip(), display="block" if display else "inline")
    except Exception:  # the converter raises many kinds of errors on TeX it cannot read
        return f'<code class="tex">{html.escape(tex.strip())}</code>'
    _clean_mathml(element)
    return _ESCAPED_REFERENCE.sub(r"&\1", tostring(element, encoding="unicode"))


# Every hand-in of an exercise carries the same released markdown cells: each is rendered once
# per process (sources up to this size; a longer one is rendered every time it is met).
CACHED_MARKDOWN_CHARS = 10_000


def _markdown(source: str) -> str:
    """Markdown as HTML, with each formula converted to MathML (markdown would eat backslashes)."""
    if len(source) <= CACHED_MARKDOWN_CHARS:
        return _markdown_cached(source)
    return _render_markdown(source)


def _render_markdown(source: str) -> str:
    formulas: list[str] = []

    def hold(match: re.Match) -> str:
        if match.group("code") is not None:
            return match.group(0)
        display = match.group("display") is not None
        formulas.append(latex_to_mathml(match.group("display" if display else "inline"), display))
        return f"I2DLMATH{len(formulas) - 1}X"

    rendered = _MARKDOWN(MATH.sub(hold, source))
    return re.sub(r"I2DLMATH(\d+)X", lambda m: formulas[int(m.group(1))], rendered)


_markdown_cached = functools.lru_cache(maxsize=256)(_render_markdown)


# Markdown is rendered (and its math converted) for this many characters per page; the rest of
# a notebook's markdown is shown as plain text, so that no hand-in can make its page slow to write.
MARKDOWN_BUDGET = 500_000


def _text(value) -> str:
    return "".join(value) if isinstance(value, list) else str(value)


def _pre(text: str, kind: str = "") -> str:
    css = f' class="{kind}"' if kind else ""
    return f"<pre{css}>{html.escape(ANSI.sub('', text))}</pre>"


def _outputs(cell: NotebookNode, test: bool) -> list[str]:
    parts: list[str] = []
    for output in cell.get("outputs", []):
        kind = output.get("output_type")
        if kind == "stream":
            parts.append(_pre(_text(output.get("text", "")), "output"))
        elif kind == "error":
            message = f"{output.get('ename', 'Error')}: {output.get('evalue', '')}"
            if not test:
                message = "\n".join(_text(line) for line in output.get("traceback", [])) or message
            parts.append(_pre(message, "error"))
        elif kind in ("display_data", "execute_result"):
            data = output.get("data", {})
            image = next((m for m in ("image/png", "image/jpeg") if m in data), None)
            if image:
                encoded = _text(data[image]).replace("\n", "")
                if re.fullmatch(r"[A-Za-z0-9+/=]*", encoded):
                    parts.append(f'<img alt="figure" src="data:{image};base64,{encoded}">')
            elif "text/plain" in data:
                parts.append(_pre(_text(data["text/plain"]), "output"))
    return parts


HIDDEN, VISIBLE, STOPPED = "hidden test", "visible check", "grading stopped"
WHERE = {
    HIDDEN: "a hidden test failed: it checks the same rules on fresh inputs, and its code is not "
    "shown",
    VISIBLE: "a visible check failed: run this cell in your notebook to see the whole error",
    STOPPED: "grading stopped before this test could finish",
}


def failure_origin(cell) -> str | None:
    """Where a graded test cell failed: in a hidden test, a visible check, or not at all.

    The grader runs a cell's visible code in the student's kernel and stops at its first error;
    a hidden region runs in the grader, and its failure is written as one error output whose
    traceback is the single line ``"<name>: <message>"`` (grader.execute); an error from the
    kernel carries IPython's traceback. ``GradingStopped`` marks a cell the grader could not
    finish (time, memory or a dead kernel). None when the cell has no error.
    """
    errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
    if not errors:
        return None
    last = errors[-1]
    name, message = last.get("ename", ""), last.get("evalue", "")
    if name == "GradingStopped":
        return STOPPED
    if list(last.get("traceback", [])) == [f"{name}: {message}"]:
        return HIDDEN
    return VISIBLE


def is_graded_by_hand(cell) -> bool:
    """An answer cell that carries points: the instructor grades it (a written explanation)."""
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return bool(meta.get("grade")) and not is_test_cell(cell)


def graded_by_hand(nb) -> dict[str, float]:
    """grade_id -> points of the cells of ``nb`` that are graded by hand."""
    metas = [cell["metadata"]["nbgrader"] for cell in nb.cells if is_graded_by_hand(cell)]
    return {meta["grade_id"]: float(meta.get("points", 0)) for meta in metas}


def _row(outcome: TestResult, by_hand: bool, origin: str | None) -> str:
    points = f"{format_score(outcome.max_score)}"
    if by_hand:
        cells = (f"&ndash; / {points}", "a written answer: your instructor grades it", "by hand")
    else:
        lost = outcome.score < outcome.max_score
        where = origin or ("not run" if lost else "")
        cells = (f"{format_score(outcome.score)} / {points}", outcome.error or "", where)
    return (
        f"<tr><td>{html.escape(outcome.grade_id)}</td><td>{cells[0]}</td>"
        f"<td>{html.escape(cells[1])}</td><td>{html.escape(cells[2])}</td></tr>"
    )


def render(nb: NotebookNode, result: NotebookResult) -> str:
    """The feedback page for one autograded notebook."""
    tests = {t.grade_id: t for t in result.tests}
    manual = graded_by_hand(nb)
    origins = {
        cell["metadata"]["nbgrader"].get("grade_id", ""): failure_origin(cell)
        for cell in nb.cells
        if is_test_cell(cell)
    }
    title = f"{result.exercise}/{result.notebook}: {result.student}"
    pending = sum(manual.values())
    summary = (
        f"<p>Score <strong>{format_score(result.score)} / {format_score(result.max_score)}</strong>"
        f" &middot; status <strong>{html.escape(result.status)}</strong>"
        + (f" &middot; {html.escape(result.reason)}" if result.reason else "")
        + "</p>"
        + (
            f"<p>{format_score(pending)} of the points are for answers your instructor grades "
            "by hand; they are not in this score yet.</p>"
            if pending
            else ""
        )
    )
    rows = "".join(_row(t, t.grade_id in manual, origins.get(t.grade_id)) for t in result.tests)
    budget = MARKDOWN_BUDGET

    def markdown(source: str) -> str:
        nonlocal budget
        budget -= len(source)
        return _markdown(source) if budget >= 0 else _pre(source, "output")

    body = [
        f"<header><h1>{html.escape(title)}</h1>{summary}",
        "<table><tr><th>test</th><th>points</th><th>why not full marks</th>"
        f"<th>failed in</th></tr>{rows}</table>",
        "</header>",
    ]
    for cell in nb.cells:
        source = _text(cell.get("source", ""))
        kind = cell.get("cell_type")
        if is_graded_by_hand(cell) and kind in ("markdown", "code"):
            grade_id = cell["metadata"]["nbgrader"].get("grade_id", "")
            verdict = (
                f'<p class="manual">{html.escape(grade_id)}: graded by hand '
                f"({format_score(manual.get(grade_id, 0))} points)</p>"
            )
            answer = markdown(source) if kind == "markdown" else _pre(source)
            body.append(f'<div class="cell answer">{verdict}{answer}</div>')
            continue
        if kind == "markdown":
            body.append(f'<div class="cell">{markdown(source)}</div>')
            continue
        if kind != "code":
            continue
        test = is_test_cell(cell)
        parts = [_pre(redact_hidden(source) if test else source)] + _outputs(cell, test)
        if test:
            grade_id = cell["metadata"]["nbgrader"].get("grade_id", "")
            outcome = tests.get(grade_id)
            if outcome is not None:
                passed = outcome.score >= outcome.max_score
                origin = origins.get(grade_id)
                note = f" &middot; {html.escape(WHERE[origin])}" if origin and not passed else ""
                verdict = (
                    f'<p class="{"passed" if passed else "failed"}">{html.escape(grade_id)}: '
                    f"{format_score(outcome.score)} / {format_score(outcome.max_score)}{note}</p>"
                )
                parts.insert(0, verdict)
            body.append(f'<div class="cell test">{"".join(parts)}</div>')
        else:
            body.append(f'<div class="cell">{"".join(parts)}</div>')
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title><style>{STYLE}</style></head>"
        f"<body>{''.join(body)}</body></html>\n"
    )


def write_feedback(nb: NotebookNode, result: NotebookResult, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(nb, result), encoding="utf-8")
