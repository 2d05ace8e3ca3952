"""Feedback HTML that students receive: their notebook, their scores, never hidden tests.

One self-contained page per graded notebook: the score and status at the top, a table of the
test cells, then the notebook as it ran. Test cells show only their visible code (hidden
regions are replaced by a note) and, when they failed, the exception's name and message, not
a traceback. Outputs are shown as text and images only: HTML or JavaScript a notebook produced
is not rendered, so a page cannot run code in the reader's browser. The page is rendered here
rather than by nbconvert's lab template (which needs about 0.15 s per notebook), and it does not
depend on the time it was written, so regrading the same work gives the same file.
"""

from __future__ import annotations

import html
import re
from pathlib import Path

import mistune
from nbformat import NotebookNode

from grader.hidden import split_regions
from grader.integrity import is_test_cell
from grader.results import NotebookResult, format_score

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
"""


def redact_hidden(source: str) -> str:
    """The visible code of a test cell, each hidden region replaced by a note."""
    return "\n".join(REDACTED if hidden else code for hidden, code in split_regions(source))


MATH = re.compile(r"\$\$.+?\$\$|\$[^$\n]+\$", re.S)


def _markdown(source: str) -> str:
    """Markdown as HTML, with LaTeX left exactly as written (markdown would eat backslashes)."""
    formulas: list[str] = []

    def hold(match: re.Match) -> str:
        formulas.append(match.group(0))
        return f"I2DLMATH{len(formulas) - 1}X"

    rendered = _MARKDOWN(MATH.sub(hold, source))
    return re.sub(r"I2DLMATH(\d+)X", lambda m: html.escape(formulas[int(m.group(1))]), rendered)


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


def render(nb: NotebookNode, result: NotebookResult) -> str:
    """The feedback page for one autograded notebook."""
    tests = {t.grade_id: t for t in result.tests}
    title = f"{result.exercise}/{result.notebook}: {result.student}"
    summary = (
        f"<p>Score <strong>{format_score(result.score)} / {format_score(result.max_score)}</strong>"
        f" &middot; status <strong>{html.escape(result.status)}</strong>"
        + (f" &middot; {html.escape(result.reason)}" if result.reason else "")
        + "</p>"
    )
    rows = "".join(
        f"<tr><td>{html.escape(t.grade_id)}</td><td>{format_score(t.score)} / "
        f"{format_score(t.max_score)}</td><td>{html.escape(t.error or '')}</td></tr>"
        for t in result.tests
    )
    body = [
        f"<header><h1>{html.escape(title)}</h1>{summary}",
        f"<table><tr><th>test</th><th>points</th><th>why not full marks</th></tr>{rows}</table>",
        "</header>",
    ]
    for cell in nb.cells:
        source = _text(cell.get("source", ""))
        if cell.get("cell_type") == "markdown":
            body.append(f'<div class="cell">{_markdown(source)}</div>')
            continue
        if cell.get("cell_type") != "code":
            continue
        test = is_test_cell(cell)
        parts = [_pre(redact_hidden(source) if test else source)] + _outputs(cell, test)
        if test:
            grade_id = cell["metadata"]["nbgrader"].get("grade_id", "")
            outcome = tests.get(grade_id)
            if outcome is not None:
                passed = outcome.score >= outcome.max_score
                verdict = (
                    f'<p class="{"passed" if passed else "failed"}">{html.escape(grade_id)}: '
                    f"{format_score(outcome.score)} / {format_score(outcome.max_score)}</p>"
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
