"""``OUT/report.html``: what an instructor reads after grading a class.

One self-contained page (inline CSS, figures embedded as PNG data URIs, no script, nothing
loaded from the network): status counts, per exercise a histogram of the scores (from the
gradebook, so manual scores count) and the pass rate of every test cell, lowest first, with the
most common error ("which test did the class fail, and how?"), the slowest hand-ins, the
grader's warnings and changed test cells, and the similarity report (:mod:`grader.similarity`)
with the matching cells of every flagged pair side by side. Every string that comes from a
hand-in (names, error messages, code) is HTML-escaped.
"""

from __future__ import annotations

import base64
import html
import io
import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from grader.course import GraderError, Repository
from grader.export import ClassScores, read_scores
from grader.results import STATUSES, format_score
from grader.similarity import OTHER_CODE, PairMatch, Settings, compare_class

SLOWEST = 10  # hand-ins listed in "Slowest hand-ins"
DETAILED = 30  # flagged pairs per notebook shown side by side (all are listed)

STYLE = """
body { font-family: system-ui, sans-serif; max-width: 72rem; margin: 2rem auto; padding: 0 1rem;
       color: #1f2328; line-height: 1.45; }
header { border-bottom: 2px solid #d0d7de; margin-bottom: 1rem; }
nav a { margin-right: 1rem; }
section { margin: 2rem 0; }
table { border-collapse: collapse; margin: 0.8rem 0; }
td, th { border: 1px solid #d0d7de; padding: 0.2rem 0.5rem; text-align: left; vertical-align: top; }
td.num, th.num { text-align: right; }
.low { background: #fff5f5; }
img { max-width: 100%; }
pre { background: #f6f8fa; padding: 0.5rem; overflow-x: auto; border-radius: 4px; margin: 0; }
pre.msg { white-space: pre-wrap; }
.pair { display: grid; grid-template-columns: minmax(0, 1fr) minmax(0, 1fr); gap: 0.5rem;
        margin: 0.3rem 0 1rem; }
.pair pre { font-size: 0.8rem; }
.shared { background: #ffe58f; display: inline-block; width: 100%; }
.muted { color: #59636e; }
details { margin: 0.5rem 0; }
"""


@dataclass
class TestStats:
    exercise: str
    notebook: str
    grade_id: str
    max_score: float
    passed: int
    graded: int
    errors: Counter

    @property
    def rate(self) -> float:
        return self.passed / self.graded if self.graded else 0.0


def _esc(value: object) -> str:
    return html.escape(str(value), quote=True)


def _png(fig: Figure) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=80, bbox_inches="tight", metadata={"Software": None})
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    return f"data:image/png;base64,{data}"


def _plain(text: str) -> str:
    """A label for matplotlib, which would read ``$...$`` as math."""
    return text.replace("$", r"\$")


def test_stats(submissions: list[dict]) -> list[TestStats]:
    """Pass counts per test cell, in notebook order, from ``report.json``'s submissions.

    A test counts as passed when it earned its full points; hand-ins without test results (an
    unreadable or missing notebook) are not counted.
    """
    stats: dict[tuple[str, str, str], TestStats] = {}
    # written answers graded by hand are no tests: the gradebook's histograms count them
    by_hand = {
        (sub["exercise"], sub["notebook"], test["grade_id"])
        for sub in submissions
        for test in sub.get("tests", [])
        if test.get("needs_manual")
    }
    for sub in submissions:
        for test in sub.get("tests", []):
            key = (sub["exercise"], sub["notebook"], test["grade_id"])
            if key in by_hand:
                continue
            entry = stats.setdefault(
                key, TestStats(*key, float(test["max_score"]), 0, 0, Counter())
            )
            entry.graded += 1
            if test["score"] >= test["max_score"] - 1e-9:
                entry.passed += 1
            elif test.get("error"):
                entry.errors[str(test["error"]).strip().splitlines()[0][:300]] += 1
    return list(stats.values())


def _histogram(exercise: str, values: list[float], top: float) -> str:
    top = top or 1.0
    fig = Figure(figsize=(5.5, 2.6))
    ax = fig.subplots()
    ax.hist(values, bins=np.linspace(0.0, top, 11), color="#4c72b0", edgecolor="white")
    ax.set_xlim(0.0, top)
    ax.set_xlabel(f"score (of {format_score(top)})")
    ax.set_ylabel("students")
    ax.yaxis.get_major_locator().set_params(integer=True)
    ax.set_title(_plain(exercise), fontsize=10)
    return _png(fig)


def _pass_chart(stats: list[TestStats]) -> str:
    fig = Figure(figsize=(5.5, 0.8 + 0.28 * len(stats)))
    ax = fig.subplots()
    several = len({s.notebook for s in stats}) > 1
    labels = [_plain(f"{s.notebook}: {s.grade_id}" if several else s.grade_id) for s in stats]
    rates = [100.0 * s.rate for s in stats]
    ax.barh(range(len(stats)), rates,
            color=["#cf222e" if r < 50 else "#d4a72c" if r < 80 else "#2da44e" for r in rates])
    ax.set_yticks(range(len(stats)), labels, fontsize=8)
    ax.invert_yaxis()  # lowest pass rate on top
    ax.set_xlim(0, 100)
    ax.set_xlabel("hand-ins passing (%)")
    return _png(fig)


def _status_table(submissions: list[dict]) -> str:
    counts: dict[tuple[str, str], Counter] = {}
    for sub in submissions:
        counts.setdefault((sub["exercise"], sub["notebook"]), Counter())[sub["status"]] += 1
    head = "".join(f'<th class="num">{s}</th>' for s in STATUSES)
    rows = [f"<tr><th>exercise</th><th>notebook</th>{head}<th class=\"num\">all</th></tr>"]
    for (exercise, notebook), count in sorted(counts.items()):
        cells = "".join(f'<td class="num">{count.get(s, 0)}</td>' for s in STATUSES)
        rows.append(
            f"<tr><td>{_esc(exercise)}</td><td>{_esc(notebook)}</td>{cells}"
            f'<td class="num">{sum(count.values())}</td></tr>'
        )
    return "<table>" + "".join(rows) + "</table>"


def _exercise_section(exercise: str, scores: ClassScores, stats: list[TestStats]) -> str:
    values = [marks[exercise] for marks in scores.scores.values() if exercise in marks]
    top = scores.max_scores.get(exercise, 0.0)
    parts = [f'<section id="ex-{_esc(exercise)}"><h2>{_esc(exercise)}</h2>']
    if values:
        parts.append(
            f"<p>{len(values)} students; mean {format_score(float(np.mean(values)))}, median "
            f"{format_score(float(np.median(values)))} of {format_score(top)} points "
            "(gradebook scores, manual grading included).</p>"
            f'<img alt="histogram of the scores in {_esc(exercise)}" '
            f'src="{_histogram(exercise, values, top)}">'
        )
    ordered = sorted(stats, key=lambda s: s.rate)  # stable: notebook order among equal rates
    if ordered:
        parts.append(
            "<h3>Pass rate per test cell, lowest first</h3>"
            f'<img alt="pass rate per test cell in {_esc(exercise)}" src="{_pass_chart(ordered)}">'
            '<table class="passrates"><tr><th>notebook</th><th>test cell</th>'
            '<th class="num">points</th><th class="num">passed</th><th class="num">pass rate</th>'
            "<th>most common error</th></tr>"
        )
        for s in ordered:
            error = ""
            if s.errors:
                message, count = s.errors.most_common(1)[0]
                error = f'<pre class="msg">{_esc(message)}</pre><span class="muted">{count}x</span>'
            low = ' class="low"' if s.rate < 0.5 else ""
            parts.append(
                f"<tr{low}><td>{_esc(s.notebook)}</td><td>{_esc(s.grade_id)}</td>"
                f'<td class="num">{format_score(s.max_score)}</td>'
                f'<td class="num">{s.passed} of {s.graded}</td>'
                f'<td class="num">{100.0 * s.rate:.0f}%</td><td>{error}</td></tr>'
            )
        parts.append("</table>")
    else:
        parts.append("<p>No test results (no notebook of this exercise could be graded).</p>")
    parts.append("</section>")
    return "".join(parts)


def _slowest(submissions: list[dict]) -> str:
    rows = sorted(submissions, key=lambda s: (-float(s.get("seconds", 0.0)), s["student"]))
    body = "".join(
        f"<tr><td>{_esc(s['student'])}</td><td>{_esc(s['exercise'])}</td>"
        f"<td>{_esc(s['notebook'])}</td><td class=\"num\">{float(s.get('seconds', 0.0)):.1f}</td>"
        f"<td>{_esc(s['status'])}</td>"
        f"<td class=\"num\">{format_score(s['score'])}/{format_score(s['max_score'])}</td></tr>"
        for s in rows[:SLOWEST]
    )
    return (
        '<section id="slowest"><h2>Slowest hand-ins</h2><table><tr><th>student</th>'
        '<th>exercise</th><th>notebook</th><th class="num">seconds</th><th>status</th>'
        f'<th class="num">score</th></tr>{body}</table></section>'
    )


def _warnings(report: dict) -> str:
    parts = ['<section id="warnings"><h2>Warnings</h2>']
    notes = report.get("warnings", [])
    if notes:
        parts += [f'<pre class="msg">{_esc(note)}</pre>' for note in notes]
    else:
        parts.append("<p>None.</p>")
    changed = [
        (s["student"], s["exercise"], s["notebook"], change)
        for s in report.get("submissions", [])
        for change in s.get("cell_changes", [])
    ]
    if changed:
        parts.append(
            "<h3>Test cells changed in hand-ins (restored before grading)</h3><table><tr>"
            "<th>student</th><th>exercise</th><th>notebook</th><th>change</th></tr>"
        )
        parts += [
            f"<tr><td>{_esc(a)}</td><td>{_esc(b)}</td><td>{_esc(c)}</td><td>{_esc(d)}</td></tr>"
            for a, b, c, d in changed
        ]
        parts.append("</table>")
    parts.append("</section>")
    return "".join(parts)


def _code(source: str, marked: list[int]) -> str:
    if not source.strip():
        return '<pre class="muted">(no code)</pre>'
    shared = set(marked)
    lines = [
        f'<span class="shared">{_esc(line)}</span>' if number in shared else _esc(line)
        for number, line in enumerate(source.split("\n"), start=1)
    ]
    return "<pre>" + "\n".join(lines) + "</pre>"


def _pair_detail(pair: PairMatch, anchor: str) -> str:
    parts = [
        f'<details id="{anchor}" open><summary><b>{_esc(pair.student_a)}</b> and '
        f"<b>{_esc(pair.student_b)}</b>: similarity {pair.score:.2f}, {pair.shared} shared "
        "fingerprints</summary>"
    ]
    for cell in pair.cells:
        if not (cell.source_a.strip() or cell.source_b.strip()):
            continue
        title = "code cells added by the students" if cell.key == OTHER_CODE else cell.key
        parts.append(
            f"<div>{_esc(title)}: similarity {cell.score:.2f} ({cell.shared} shared)</div>"
            f'<div class="pair">{_code(cell.source_a, cell.lines_a)}'
            f"{_code(cell.source_b, cell.lines_b)}</div>"
        )
    parts.append("</details>")
    return "".join(parts)


def _similarity(pairs: list[PairMatch], notes: list[str], settings: Settings) -> str:
    parts = [
        '<section id="similarity"><h2>Similarity</h2>'
        "<p>Pairs of hand-ins of one notebook whose answer code is alike after normalisation "
        "(comments, docstrings, formatting and names removed), compared by winnowed "
        f"fingerprints of {settings.k} tokens (window {settings.window}), ignoring the starter "
        "code and fingerprints found in more than "
        f"max({settings.boilerplate_min}, {settings.boilerplate_share:g} &times; hand-ins) "
        f"hand-ins. A pair is flagged at a similarity (Jaccard index) of {settings.threshold:g} "
        f"or more with at least {settings.min_shared} shared fingerprints, in the notebook or in "
        "one answer cell. Shared lines are highlighted. A flag is a reason to look, not a "
        "verdict.</p>"
    ]
    parts += [f'<p class="muted">{_esc(note)}</p>' for note in notes]
    groups: dict[tuple[str, str], list[PairMatch]] = {}
    for pair in pairs:
        groups.setdefault((pair.exercise, pair.notebook), []).append(pair)
    if not groups:
        parts.append("<p>No hand-ins to compare.</p>")
    for (exercise, notebook), group in sorted(groups.items()):
        flagged = [p for p in group if p.flagged]
        others = [p.score for p in group if not p.flagged]
        highest = f"{max(others):.2f}" if others else "none"
        parts.append(
            f"<h3>{_esc(exercise)} / {_esc(notebook)}</h3><p>{len(group)} pairs compared; "
            f"{len(flagged)} flagged; highest similarity among the others: {highest}.</p>"
        )
        if not flagged:
            continue
        parts.append(
            '<table><tr><th>student</th><th>student</th><th class="num">similarity</th>'
            '<th class="num">shared fingerprints</th></tr>'
        )
        for i, pair in enumerate(flagged):
            anchor = f"pair-{_esc(exercise)}-{_esc(notebook)}-{i}"
            first = (f'<a href="#{anchor}">{_esc(pair.student_a)}</a>' if i < DETAILED
                     else _esc(pair.student_a))
            parts.append(
                f"<tr><td>{first}</td>"
                f"<td>{_esc(pair.student_b)}</td><td class=\"num\">{pair.score:.2f}</td>"
                f'<td class="num">{pair.shared}</td></tr>'
            )
        parts.append("</table>")
        if len(flagged) > DETAILED:
            parts.append(f"<p>The {DETAILED} most similar pairs are shown side by side.</p>")
        parts += [
            _pair_detail(pair, f"pair-{_esc(exercise)}-{_esc(notebook)}-{i}")
            for i, pair in enumerate(flagged[:DETAILED])
        ]
    parts.append("</section>")
    return "".join(parts)


def render_class_report(
    report: dict, scores: ClassScores, pairs: list[PairMatch], notes: list[str], settings: Settings
) -> str:
    submissions = report.get("submissions", [])
    stats = test_stats(submissions)
    exercises = sorted(set(scores.exercises) | {s["exercise"] for s in submissions})
    nav = "".join(
        f'<a href="#{target}">{label}</a>'
        for target, label in [("status", "status")]
        + [(f"ex-{_esc(ex)}", _esc(ex)) for ex in exercises]
        + [("slowest", "slowest"), ("warnings", "warnings"), ("similarity", "similarity")]
    )
    students = {s["student"] for s in submissions} | set(scores.scores)
    body = [
        "<header><h1>Class report</h1>"
        f"<p>{len(students)} students, {len(submissions)} graded notebooks, "
        f"{len(exercises)} exercise(s).</p>"
        f'<p class="muted">{_esc(report.get("isolation", ""))}</p><nav>{nav}</nav></header>',
        f'<section id="status"><h2>Status</h2>{_status_table(submissions)}</section>',
    ]
    for exercise in exercises:
        body.append(
            _exercise_section(exercise, scores, [s for s in stats if s.exercise == exercise])
        )
    body += [_slowest(submissions), _warnings(report), _similarity(pairs, notes, settings)]
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>Class report</title><style>{STYLE}</style></head><body>"
        + "".join(body)
        + "</body></html>\n"
    )


def write_class_report(repo: Repository, out: Path, threshold: float | None = None) -> Path:
    """Write ``out/report.html`` from what ``autograde`` left in ``out``; return its path."""
    report_json = out / "report.json"
    if not report_json.is_file():
        raise GraderError(
            f"no {report_json}: grade the class first with "
            f"`i2dl-grader autograde SUBMISSIONS --out {out}`"
        )
    try:
        report = json.loads(report_json.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise GraderError(f"{report_json} is not JSON ({exc}): grade the class again") from exc
    try:
        settings = Settings() if threshold is None else Settings(threshold=threshold)
    except ValueError:
        raise GraderError(f"--threshold must lie in (0, 1], got {threshold}") from None
    scores = read_scores(out)
    pairs, notes = compare_class(repo, out, settings)
    page = out / "report.html"
    page.write_text(render_class_report(report, scores, pairs, notes, settings), encoding="utf-8")
    return page
