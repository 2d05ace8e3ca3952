"""Feedback pages: math as MathML written into the page, and where each failed test failed.

The pages are rendered directly (no kernel): formulas in markdown become MathML elements when
the page is written, so it reads the same offline; TeX cannot add HTML, links or styles to the
page; each failed test says whether a visible check or a hidden test failed. The browser test
(tests/browser/test_instructor.py) opens a page of a really graded class.
"""

from __future__ import annotations

import re

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from grader import results
from grader.execute import _hidden_failure, _stop_output
from grader.feedback import (
    HIDDEN,
    MARKDOWN_BUDGET,
    REDACTED,
    STOPPED,
    VISIBLE,
    WHERE,
    _markdown,
    failure_origin,
    graded_by_hand,
    latex_to_mathml,
    render,
)
from tests.grader.conftest import REPO

pytestmark = pytest.mark.grader

MATHML = 'xmlns="http://www.w3.org/1998/Math/MathML"'


def test_inline_and_display_formulas_become_mathml():
    assert _markdown("The loss $x^2$ and\n\n$$\\frac{a}{b}$$") == (
        f'<p>The loss <math {MATHML} display="inline"><mrow><msup><mi>x</mi><mn>2</mn></msup>'
        "</mrow></math> and</p>\n"
        f'<p><math {MATHML} display="block"><mrow><mfrac><mrow><mi>a</mi></mrow><mrow><mi>b</mi>'
        "</mrow></mfrac></mrow></math></p>\n"
    )


def test_code_and_escaped_dollars_are_not_math():
    page = _markdown(
        "Run `echo $HOME $PATH` or\n\n```\nprice = $5 + $6\n```\n\nIt costs \\$5 and \\$6."
    )
    assert page == (
        "<p>Run <code>echo $HOME $PATH</code> or</p>\n"
        "<pre><code>price = $5 + $6\n</code></pre>\n"
        "<p>It costs $5 and $6.</p>\n"
    )


def test_a_formula_may_span_lines_but_not_paragraphs():
    page = _markdown("$a +\nb$ and $c\n\nd$")
    assert page == (
        f'<p><math {MATHML} display="inline"><mrow><mi>a</mi><mo>&#x0002B;</mo><mi>b</mi></mrow>'
        "</math> and $c</p>\n<p>d$</p>\n"
    )


def test_tex_cannot_add_html_links_or_styles_to_the_page():
    # \text{} content is escaped, \href's link and \style's CSS (which could load a URL) dropped
    mathml = latex_to_mathml(
        r"\text{<script>alert(1)</script>} \href{javascript:alert(1)}{x} "
        r"\style{background:url(http://example.org/a.png)}{y}"
    )
    assert mathml == (
        f'<math {MATHML} display="inline"><mrow><mtext>&lt;script&gt;alert(1)&lt;/script&gt;'
        "</mtext><mrow><mrow><mi>x</mi></mrow></mrow><mrow><mi>y</mi></mrow></mrow></math>"
    )
    assert latex_to_mathml(r"\text{a & b}") == (
        f'<math {MATHML} display="inline"><mrow><mtext>a&#x000A0;&amp;&#x000A0;b</mtext></mrow>'
        "</math>"
    )


def test_tex_the_converter_cannot_read_is_shown_as_code():
    assert latex_to_mathml(r"\frac{1}{") == '<code class="tex">\\frac{1}{</code>'
    assert _markdown("broken: $\\frac{<b>}{$") == (
        '<p>broken: <code class="tex">\\frac{&lt;b&gt;}{</code></p>\n'
    )


def test_aligned_equations_are_laid_out_as_a_table():
    mathml = latex_to_mathml(r"\begin{aligned} a &= b \\ c &= d \end{aligned}", display=True)
    assert mathml.startswith(f'<math {MATHML} display="block"><mrow><mtable ')
    assert mathml.count("<mtr>") == 2 and "&amp;" not in mathml


@pytest.mark.parametrize("exercise", REPO.exercise_names())
def test_every_released_exercise_renders_all_its_math(exercise):
    nb = nbformat.read(REPO.exercises / exercise / f"{exercise}.ipynb", as_version=4)
    markdown = [c.source for c in nb.cells if c.cell_type == "markdown"]
    page = "".join(_markdown(source) for source in markdown)
    formulas = sum(len(re.findall(r"\$\$.+?\$\$", s, re.S)) for s in markdown)
    assert page.count("<math ") >= formulas > 0
    assert "$" not in page
    assert 'class="tex"' not in page


def _test_cell(grade_id: str, points: int, outputs: list) -> nbformat.NotebookNode:
    source = (
        f'"""{grade_id} ({points} points)"""\nassert f(2) == 4\n'
        "### BEGIN HIDDEN TESTS\n_x = 3\nassert f(_x) == 9, 'secret check'\n### END HIDDEN TESTS"
    )
    cell = new_code_cell(source, outputs=outputs)
    cell.metadata["nbgrader"] = {
        "grade": True, "solution": False, "locked": True, "grade_id": grade_id,
        "points": points, "schema_version": 3, "task": False,
    }
    return cell


# An error from the student's kernel as ipykernel reports it: IPython's coloured traceback.
KERNEL_ERROR = nbformat.from_dict({
    "output_type": "error", "ename": "AssertionError", "evalue": "",
    "traceback": [
        "\x1b[31m---------------------------------------------------------------------------"
        "\x1b[39m",
        "\x1b[31mAssertionError\x1b[39m                            Traceback (most recent call "
        "last)",
        "Cell \x1b[32mIn[4]\x1b[39m\x1b[32m, line 2\x1b[39m\n      1 \x1b[33m\"\"\"test_visible"
        "\"\"\"\x1b[39m\n----> 2 \x1b[38;5;28;01massert\x1b[39;00m f(2) == 4",
        "\x1b[31mAssertionError\x1b[39m: ",
    ],
})


def _graded_notebook() -> nbformat.NotebookNode:
    answer = new_markdown_cell("Because the field doubles: $j_k = j_{k-1} s_k$.")
    answer.metadata["nbgrader"] = {
        "grade": True, "solution": True, "locked": False, "grade_id": "explain",
        "points": 5, "schema_version": 3, "task": False,
    }
    return new_notebook(cells=[
        new_markdown_cell("# Squares\n\nWrite $f(x) = x^2$."),
        new_code_cell("def f(x):\n    return x * 2"),
        _test_cell("test_visible", 5, [KERNEL_ERROR]),
        _test_cell("test_hidden", 10, [
            nbformat.from_dict({"output_type": "stream", "name": "stdout", "text": "checked\n"}),
            _hidden_failure(AssertionError("f(3) returned 6, expected 9")),
        ]),
        _test_cell("test_passed", 5, []),
        _test_cell("test_stopped", 5, [_stop_output("not run: the kernel died")]),
        answer,
    ])


def test_each_failed_test_says_whether_a_visible_check_or_a_hidden_test_failed():
    nb = _graded_notebook()
    assert [failure_origin(c) for c in nb.cells if c.cell_type == "code"] == [
        None, VISIBLE, HIDDEN, None, STOPPED]
    assert graded_by_hand(nb) == {"explain": 5.0}
    result = results.NotebookResult("bob", "ex_sq", "ex_sq", 5.0, 30.0, "ok", tests=[
        results.TestResult("test_visible", 0.0, 5.0, "AssertionError: "),
        results.TestResult("test_hidden", 0.0, 10.0, "AssertionError: f(3) returned 6, expected 9"),
        results.TestResult("test_passed", 5.0, 5.0),
        results.TestResult("test_stopped", 0.0, 5.0, "GradingStopped: not run: the kernel died"),
        results.TestResult("explain", 0.0, 5.0),
    ])
    page = render(nb, result)
    rows = re.findall(r"<tr><td>.*?</tr>", page)
    assert rows == [
        "<tr><td>test_visible</td><td>0 / 5</td><td>AssertionError: </td>"
        "<td>visible check</td></tr>",
        "<tr><td>test_hidden</td><td>0 / 10</td><td>AssertionError: f(3) returned 6, expected 9"
        "</td><td>hidden test</td></tr>",
        "<tr><td>test_passed</td><td>5 / 5</td><td></td><td></td></tr>",
        "<tr><td>test_stopped</td><td>0 / 5</td><td>GradingStopped: not run: the kernel died</td>"
        "<td>grading stopped</td></tr>",
        "<tr><td>explain</td><td>&ndash; / 5</td><td>a written answer: your instructor grades it"
        "</td><td>by hand</td></tr>",
    ]
    verdicts = re.findall(r'<p class="(?:passed|failed|manual)">.*?</p>', page)
    assert verdicts == [
        f'<p class="failed">test_visible: 0 / 5 &middot; {WHERE[VISIBLE]}</p>',
        f'<p class="failed">test_hidden: 0 / 10 &middot; {WHERE[HIDDEN]}</p>',
        '<p class="passed">test_passed: 5 / 5</p>',
        f'<p class="failed">test_stopped: 0 / 5 &middot; {WHERE[STOPPED]}</p>',
        '<p class="manual">explain: graded by hand (5 points)</p>',
    ]
    assert "5 of the points are for answers your instructor grades by hand" in page
    # the hidden tests stay hidden, the student's answer and all math are shown as MathML
    assert "secret check" not in page and "_x = 3" not in page
    assert page.count(REDACTED) == 4
    assert page.count("<math ") == 2 and "$" not in page
    assert "<script" not in page and "http" not in page.replace(MATHML, "")


def test_markdown_beyond_the_page_budget_is_shown_as_plain_text():
    huge = "`" + "x" * MARKDOWN_BUDGET
    nb = new_notebook(cells=[new_markdown_cell("$a$"), new_markdown_cell(huge),
                             new_markdown_cell("$b$")])
    page = render(nb, results.NotebookResult("bob", "ex_sq", "ex_sq", 0.0, 0.0, "ok"))
    assert page.count("<math ") == 1
    assert f'<div class="cell"><pre class="output">{huge}</pre></div>' in page
    assert '<div class="cell"><pre class="output">$b$</pre></div>' in page


def test_formgrader_pages_get_the_same_mathml_and_keep_code_and_escaped_dollars():
    """Formgrader's exporter (i2dl-grader lab) turns markdown formulas into MathML first."""
    from nbconvert import HTMLExporter
    from nbgrader.server_extensions.formgrader import handlers
    from traitlets.config import Config

    from grader.formgrade_math import MathMLPreprocessor, markdown_with_mathml
    from grader.labconfig import lab_config

    source = "Cost $x^2$, code `a = $b$`, price \\$5 and\n\n$$\\frac{a}{b}$$\n\nend"
    converted = markdown_with_mathml(source)
    assert converted.count("<math ") == 2 and "`a = $b$`" in converted and "\\$5" in converted
    assert latex_to_mathml("x^2") in converted
    assert latex_to_mathml("\\frac{a}{b}", display=True) in converted

    # As Formgrader builds its exporter: nbgrader's settings, then the course's nbgrader_config.
    config = Config()
    config.HTMLExporter.template_name = "formgrade"
    config.HTMLExporter.extra_template_basedirs = [handlers.template_path]
    config.merge(lab_config(REPO.root, REPO.root / ".course"))
    exporter = HTMLExporter(config=config)
    assert any(isinstance(p, MathMLPreprocessor) for p in exporter._preprocessors)
    nb = new_notebook(cells=[new_markdown_cell(source), new_code_cell("x = 1")])
    resources = {"assignment_id": "a", "notebook_id": "n", "submission_id": "s", "index": 0,
                 "total": 1, "base_url": "", "student": "s", "last_name": "", "first_name": "",
                 "notebook_path": "n.ipynb"}
    page, _ = exporter.from_notebook_node(nb, resources=resources)
    formulas = re.findall(r"<math [^>]*>", page)
    assert len(formulas) == 2 and all(MATHML in f for f in formulas)
    assert 'display="block"' in formulas[1]
    assert "MathJax.Hub" not in page and "cdnjs" not in page
    assert not re.findall(r"<script[^>]+src=\"https?://", page)
