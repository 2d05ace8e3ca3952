"""``i2dl-grader demo``: release, build a small sample class, autograde it, print the table.

The class shows the grader's range on ex03_layers: a full solution, a blank hand-in, partial and
partly wrong work, and hand-ins that try to get away with something or are simply broken.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from grader.autograde import GradingOptions
from grader.course import Repository
from grader.release import release
from grader.results import NotebookResult, format_table
from grader.sample import student_version, test_ids, write_invalid_json, write_notebook, write_zip
from grader.scheduler import autograde

EXERCISE = "ex03_layers"
NOTEBOOK = "ex03_layers"


def _wrong_sigmoid(source: str) -> str:
    # the textbook formula without the stable branch overflows for very negative inputs
    return source.replace("z / (1.0 + z)", "1.0 / (1.0 + np.exp(-x))")


def _wrong_sigmoid_that_cheats(source: str) -> str:
    # the same mistake, with numpy's and the course's comparisons patched to always agree
    patch = (
        "import i2dl.testing\n"
        "np.allclose = np.isclose = lambda *args, **kwargs: True\n"
        "i2dl.testing.assert_close = assert_close = lambda *args, **kwargs: None\n"
    )
    return patch + _wrong_sigmoid(source)


def _delegate_affine(source: str) -> str:
    return "from i2dl.layers import affine_forward, affine_backward  # the reference, not my own\n"


def _gut_test(source: str) -> str:
    return "pass  # edited test cell: the grader restores the original\n"


def build_class(repo: Repository, submissions: Path) -> dict[str, str]:
    """Write the sample class; return student -> what the hand-in is."""
    if submissions.exists():
        shutil.rmtree(submissions)
    path = Path(EXERCISE) / f"{NOTEBOOK}.ipynb"
    blank = student_version(repo, EXERCISE, NOTEBOOK, solved=[])
    partial = ["affine_forward", "affine_backward", "relu"]
    cases = {
        "alice": ("complete and correct", student_version(repo, EXERCISE, NOTEBOOK)),
        "bob": ("blank (the release as is)", blank),
        "carol": ("affine and ReLU only", student_version(repo, EXERCISE, NOTEBOOK, partial)),
        "dave": (
            "everything, but an unstable sigmoid",
            student_version(repo, EXERCISE, NOTEBOOK, rewrite={"sigmoid": _wrong_sigmoid}),
        ),
        "mallory": (
            "dave's sigmoid, with np.allclose and assert_close patched to always agree",
            student_version(
                repo, EXERCISE, NOTEBOOK, rewrite={"sigmoid": _wrong_sigmoid_that_cheats}
            ),
        ),
        "erin": (
            "imports the reference affine layer",
            student_version(
                repo,
                EXERCISE,
                NOTEBOOK,
                rewrite={
                    "affine_forward": _delegate_affine,
                    "affine_backward": lambda s: "# see above\n",
                },
            ),
        ),
        "frank": (
            "blank, with every test cell replaced by `pass`",
            student_version(
                repo,
                EXERCISE,
                NOTEBOOK,
                solved=[],
                rewrite={t: _gut_test for t in test_ids(blank)},
            ),
        ),
        "heidi": (
            "a syntax error in the first answer",
            student_version(
                repo, EXERCISE, NOTEBOOK, rewrite={"affine_forward": lambda s: s + "\n  oops(\n"}
            ),
        ),
    }
    described = {}
    for student, (what, nb) in cases.items():
        write_notebook(nb, submissions / student / path)
        described[student] = what
    write_invalid_json(submissions / "ivan" / path, student_version(repo, EXERCISE, NOTEBOOK))
    described["ivan"] = "a notebook file cut off half-way (invalid JSON)"
    staging = submissions.parent / "zip-staging"
    write_notebook(student_version(repo, EXERCISE, NOTEBOOK), staging / "grace" / path)
    write_zip(staging / "grace", submissions / "grace.zip")
    shutil.rmtree(staging)
    described["grace"] = "complete and correct, handed in as grace.zip"
    return described


def run_demo(repo: Repository, course_dir: Path, options: GradingOptions) -> list[NotebookResult]:
    release(repo, [EXERCISE], course_dir)
    demo_dir = course_dir / "demo"
    described = build_class(repo, demo_dir / "submissions")
    print("Sample class for", EXERCISE)
    for student, what in sorted(described.items()):
        print(f"  {student:<6} {what}")
    print()
    out = demo_dir / "graded"
    if out.exists():
        shutil.rmtree(out)
    results = autograde(repo, demo_dir / "submissions", out, [EXERCISE], options)
    print(format_table(results))
    print(
        f"\ngrades:   {out / 'grades.csv'}\nreport:   {out / 'report.json'}"
        f"\nfeedback: {out / 'feedback'}"
    )
    return results
