"""Shared helpers for the per-exercise tests: grade a generated submission through the CLI."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from grader.sample import student_version, write_notebook
from tests.grader.conftest import REPO, run_cli

# The classes here are graded by one grading process: pytest-xdist already keeps every core busy
# with a test file each, and a second grading process only adds its own start (process, zygote,
# spare kernel). Four of these files took 141.8-149.1 s of CPU this way against 168.1-178.6 s
# with the default of one grading process per core, in the same wall time. The process pool is
# tested where it matters (tests/grader/test_scheduler.py, test_hostile*.py, test_cluster.py).
ONE_WORKER = ("--workers", "1")


def grade_versions(tmp_path: Path, exercise: str, notebook: str,
                   versions: dict[str, list[str] | None]) -> dict[str, float]:
    """Grade one student per entry of ``versions`` (answer-cell ids solved; None: all).

    Returns student -> score. Fails the test if the grader itself fails.
    """
    subs = tmp_path / "submissions"
    for student, solved in versions.items():
        nb = student_version(REPO, exercise, notebook, solved)
        write_notebook(nb, subs / student / exercise / f"{notebook}.ipynb")
    out = tmp_path / "out"
    proc = run_cli("autograde", str(subs), "--out", str(out), "--exercise", exercise,
                   "--no-progress", *ONE_WORKER)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    with open(out / "grades.csv", newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if r["notebook"] == notebook]
    assert all(r["status"] == "ok" for r in rows), rows
    return {r["student"]: float(r["score"]) for r in rows}


def sub(old: str, new: str):
    """A ``rewrite`` for ``student_version`` that replaces ``old`` (which must occur) by ``new``."""

    def rewrite(source: str) -> str:
        assert old in source, f"{old!r} not in the answer cell:\n{source}"
        return source.replace(old, new)

    return rewrite


def grade_hand_ins(tmp_path: Path, hand_ins: dict[tuple[str, str, str], Any],
                   exercise: str | None = None) -> dict[tuple[str, str], dict[str, dict]]:
    """Grade prepared notebooks, one CLI run for all of them.

    ``hand_ins`` maps (student, exercise, notebook) to a notebook (e.g. from ``student_version``
    with ``rewrite``); without ``exercise`` the run grades every exercise handed in. Returns
    (student, exercise) -> grade_id -> that test's entry of report.json (``score``,
    ``max_score``, ``error``). Fails the test if the grader fails or a row is not ``ok``.
    """
    subs = tmp_path / "submissions"
    for (student, ex, notebook), nb in hand_ins.items():
        write_notebook(nb, subs / student / ex / f"{notebook}.ipynb")
    out = tmp_path / "out"
    args = ["autograde", str(subs), "--out", str(out), "--no-progress", *ONE_WORKER]
    if exercise is not None:
        args += ["--exercise", exercise]
    proc = run_cli(*args)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = json.loads((out / "report.json").read_text())
    rows = report["submissions"]
    assert all(r["status"] == "ok" for r in rows), [(r["student"], r["status"]) for r in rows]
    assert len(rows) == len(hand_ins), sorted((r["student"], r["exercise"]) for r in rows)
    return {(r["student"], r["exercise"]): {t["grade_id"]: t for t in r["tests"]} for r in rows}


def lost(tests: dict[str, dict]) -> dict[str, str | None]:
    """grade_id -> error of every test that did not earn its full points."""
    return {g: t["error"] for g, t in tests.items() if t["score"] < t["max_score"]}


def total(tests: dict[str, dict]) -> float:
    return sum(t["score"] for t in tests.values())


def edits(changes: list[tuple[str, str]]):
    """A ``rewrite`` applying several ``sub(old, new)`` replacements in order."""

    def rewrite(source: str) -> str:
        for old, new in changes:
            source = sub(old, new)(source)
        return source

    return rewrite


def grade_class(tmp_path: Path, exercise: str, notebook: str, other_style: dict[str, str],
                mistakes: dict[str, tuple[dict[str, list[tuple[str, str]]], set[str]]],
                partial: dict[str, tuple[list[str], float]]) -> dict[tuple[str, str], dict]:
    """Grade, in one CLI run, a correct solution in another style, classic mistakes and partial
    hand-ins, and assert the rules every exercise obeys.

    ``other_style`` maps answer cells to replacement code (it must lose nothing); ``mistakes``
    maps a student to (answer cell -> [(old, new), ...] edits of the solution, the exact set of
    tests that must lose points); ``partial`` maps a student to (answer cells solved, exact
    score). Returns what :func:`grade_hand_ins` returns, for checks of the messages.
    """
    hand_ins = {("other_style", exercise, notebook): student_version(
        REPO, exercise, notebook,
        rewrite={cell: (lambda _s, code=code: code) for cell, code in other_style.items()})}
    for student, (rewrites, _) in mistakes.items():
        hand_ins[(student, exercise, notebook)] = student_version(
            REPO, exercise, notebook, rewrite={cell: edits(c) for cell, c in rewrites.items()})
    for student, (solved, _) in partial.items():
        hand_ins[(student, exercise, notebook)] = student_version(REPO, exercise, notebook, solved)
    results = grade_hand_ins(tmp_path, hand_ins, exercise=exercise)
    assert lost(results[("other_style", exercise)]) == {}
    for student, (_, expected) in mistakes.items():
        failed = lost(results[(student, exercise)])
        assert set(failed) == expected, (student, failed)
    for student, (_, score) in partial.items():
        assert total(results[(student, exercise)]) == score, (
            student, lost(results[(student, exercise)]))
    return results


def grade_students(tmp_path: Path, exercise: str, notebook: str, students: dict[str, Any]):
    """Grade student -> notebook in one CLI run; return per student its tests (grade_id -> entry
    of report.json), its total score and the set of grade_ids that lost points."""
    results = grade_hand_ins(
        tmp_path, {(s, exercise, notebook): nb for s, nb in students.items()}, exercise)
    tests = {student: results[(student, exercise)] for student in students}
    scores = {student: total(t) for student, t in tests.items()}
    losses = {student: set(lost(t)) for student, t in tests.items()}
    return tests, scores, losses


def solution_cells(exercise: str) -> dict[str, str]:
    """grade_id -> source of every cell of the exercise's solution notebook that has one."""
    import nbformat

    nb = nbformat.read(REPO.solutions / exercise / f"{exercise}.ipynb", as_version=4)
    return {c.metadata["nbgrader"]["grade_id"]: c.source for c in nb.cells
            if c.metadata.get("nbgrader", {}).get("grade_id")}


def seeded(seed: int):
    """A ``np.random.default_rng`` that gives ``seed``'s generator where it is called unseeded."""
    import numpy as np

    def default_rng(*args, **kwargs):
        return np.random.default_rng(*args, **kwargs) if args or kwargs else (
            np.random.default_rng(seed))

    return default_rng


def run_hidden_region(exercise: str, grade_id: str, default_rng, *sources: str) -> dict[str, Any]:
    """Run the hidden region of test cell ``grade_id`` in this process, after ``sources`` (the
    answers and what they need), with ``default_rng`` in place of ``np.random.default_rng``
    (e.g. ``seeded(seed)``, which replays one grading run exactly).

    Returns the namespace it ran in. Raises what the region raises (an AssertionError where the
    hand-in would lose the test's points).
    """
    import types

    import numpy as np

    from grader.hidden import split_regions

    hidden = [code for is_hidden, code in split_regions(solution_cells(exercise)[grade_id])
              if is_hidden]
    assert len(hidden) == 1, f"{exercise}/{grade_id}: expected one hidden region"
    own_numpy = types.SimpleNamespace(
        **{name: getattr(np, name) for name in dir(np) if not name.startswith("__")}
    )
    own_numpy.random = types.SimpleNamespace(default_rng=default_rng)
    namespace: dict[str, Any] = {"__name__": "__main__", "np": own_numpy}
    for source in sources:
        exec(source, namespace)
    exec(hidden[0], namespace)
    return namespace
