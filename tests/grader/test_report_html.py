"""`i2dl-grader report`: the class report page, on a graded class."""

from __future__ import annotations

import base64
import json
import re

import pytest

from grader.class_report import DETAILED, render_class_report
from grader.cli import main
from grader.export import ClassScores
from grader.similarity import CellMatch, PairMatch, Settings
from tests.grader.conftest import run_cli
from tests.grader.ex01_class import EX

pytestmark = pytest.mark.grader


@pytest.fixture(scope="module")
def page(graded_ex01_class):
    """(out, report.json, report.html) of a graded class: ada 100, ben (ada's work renamed)
    100, cleo 35, dan 0 with an error message holding a <script> tag, eve an unreadable file."""
    out = graded_ex01_class
    proc = run_cli("report", str(out))
    assert proc.returncode == 0, proc.stderr
    size = (out / "report.html").stat().st_size
    assert proc.stdout == f"wrote {out / 'report.html'} ({size / 1024:.0f} KiB)\n"
    report = json.loads((out / "report.json").read_text())
    return out, report, (out / "report.html").read_text(encoding="utf-8")


def _section(html: str, section: str) -> str:
    match = re.search(rf'<section id="{section}">(.*?)</section>', html, re.S)
    assert match, section
    return match.group(1)


def _rows(table_html: str) -> list[list[str]]:
    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", table_html, re.S)
    return [[re.sub(r"<[^>]+>", "", cell) for cell in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>",
                                                                 row, re.S)] for row in rows]


def test_status_counts(page):
    _, _, html = page
    assert _rows(_section(html, "status")) == [
        ["exercise", "notebook", "ok", "timeout", "memory", "crashed", "invalid", "missing", "all"],
        [EX, EX, "4", "0", "0", "0", "1", "0", "5"],
    ]


def test_pass_rate_per_test_cell_lowest_first(page):
    _, _, html = page
    section = _section(html, f"ex-{EX}")
    assert "5 students; mean 47, median 35 of 100 points" in section
    table = re.search(r'<table class="passrates">(.*?)</table>', section, re.S).group(1)
    rows = [row[1:5] for row in _rows(table)[1:]]
    half = ["2 of 4", "50%"]  # ada and ben pass; cleo solved four parts, dan none
    most = ["3 of 4", "75%"]
    assert rows == [
        ["test_fit_closed_form", "15", *half],
        ["test_gd_matches_closed_form", "10", *half],
        ["test_gradient_descent", "15", *half],
        ["test_mse_gradient", "15", *half],
        ["test_select_degree", "10", *half],
        ["test_add_bias_column", "5", *most],
        ["test_mse", "10", *most],
        ["test_polynomial_features", "10", *most],
        ["test_predict", "10", *most],
    ]
    images = re.findall(r'<img alt="([^"]*)" src="data:image/png;base64,([^"]+)">', section)
    assert [alt for alt, _ in images] == [
        f"histogram of the scores in {EX}", f"pass rate per test cell in {EX}"
    ]
    assert all(base64.b64decode(data).startswith(b"\x89PNG\r\n\x1a\n") for _, data in images)


def test_slowest_hand_ins_come_first(page):
    _, report, html = page
    rows = _rows(_section(html, "slowest"))[1:]
    expected = sorted(report["submissions"], key=lambda s: (-s["seconds"], s["student"]))
    assert [(r[0], r[3], r[4]) for r in rows] == [
        (s["student"], f"{s['seconds']:.1f}", s["status"]) for s in expected
    ]


def test_the_copied_hand_in_is_shown_side_by_side(page):
    _, _, html = page
    section = _section(html, "similarity")
    assert f"<h3>{EX} / {EX}</h3><p>6 pairs compared; 1 flagged;" in section
    assert _rows(section)[1][:2] == ["ada", "ben"]
    assert section.count('<div class="pair">') == 9  # eight answer cells and the other cells
    # ben's renamed line is marked as shared, next to ada's original
    assert ('<span class="shared">    outputs = data @ params[:-1] + params[-1]</span>'
            in section)
    assert '<span class="shared">    y_hat = X @ theta[:-1] + theta[-1]</span>' in section


def test_student_strings_are_escaped(page):
    _, report, html = page
    errors = [t["error"] for s in report["submissions"] if s["student"] == "dan"
              for t in s["tests"] if t["grade_id"] == "test_predict"]
    assert errors == ["ValueError: <script>alert(1)</script>"]
    assert "ValueError: &lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "# &lt;/pre&gt;&lt;script&gt;alert(&quot;copied&quot;)&lt;/script&gt;" in html
    assert "<script" not in html and "</pre><script" not in html


def test_the_page_loads_nothing_from_elsewhere(page):
    _, _, html = page
    links = re.findall(r"""\b(?:src|href)\s*=\s*("[^"]*"|'[^']*'|[^\s>]+)""", html)
    assert len(links) == 8  # 5 in the navigation, 2 figures, the link to the flagged pair
    assert all(link.strip("\"'").startswith(("#", "data:image/png;base64,")) for link in links)
    assert not re.search(r"https?://|<link|@import|<iframe|<object", html, re.I)


def test_a_folder_that_was_never_graded_is_refused(tmp_path, capsys):
    assert main(["report", str(tmp_path)]) == 2
    assert capsys.readouterr().err == (
        f"i2dl-grader: error: no {tmp_path / 'report.json'}: grade the class first with "
        f"`i2dl-grader autograde SUBMISSIONS --out {tmp_path}`\n"
    )


def test_the_threshold_is_checked(page, capsys):
    out, _, _ = page
    assert main(["report", str(out), "--threshold", "1.5"]) == 2
    error = capsys.readouterr().err
    assert error == "i2dl-grader: error: --threshold must lie in (0, 1], got 1.5\n"


def test_only_the_most_similar_pairs_are_shown_side_by_side():
    pairs = [
        PairMatch(EX, EX, f"s{i:02d}", f"t{i:02d}", 0.9, 20, True,
                  [CellMatch("relu", 1.0, 20, "x = 1", "y = 1", [1], [1])])
        for i in range(DETAILED + 1)
    ]
    html = render_class_report({"submissions": []}, ClassScores([], {}), pairs, [], Settings())
    section = _section(html, "similarity")
    assert f"{DETAILED + 1} pairs compared; {DETAILED + 1} flagged" in section
    assert section.count("<details") == DETAILED
    assert f"The {DETAILED} most similar pairs are shown side by side." in section
    assert len(_rows(section)) == DETAILED + 2  # the header and every flagged pair
