"""Similarity: planted copies are flagged, independent solutions are not (no kernels run)."""

from __future__ import annotations

import itertools

import nbformat
import numpy as np
import pytest

import i2dl.layers as reference
from grader.sample import student_version, write_notebook
from grader.similarity import (
    OTHER_CODE,
    Settings,
    compare_class,
    compare_notebooks,
    kgram_hashes,
    normalized_tokens,
    winnow,
)
from tests.exercises.test_ex03_layers import DICT_CACHES, TUPLE_CACHES
from tests.grader import similarity_cases as cases
from tests.grader.conftest import REPO

EX = NB = "ex03_layers"
RELEASED = nbformat.read(REPO.exercises / EX / f"{NB}.ipynb", as_version=4)


def _version(cells: dict[str, str] | None):
    """The reference solution with the given answer cells replaced."""
    rewrite = {key: (lambda _s, code=code: code) for key, code in (cells or {}).items()}
    return student_version(REPO, EX, NB, rewrite=rewrite)


INDEPENDENT = {
    "solution": None,  # grader.sample's version: the solution notebook's code
    "dict_caches": DICT_CACHES,  # the variants of tests/exercises/test_ex03_layers.py
    "tuple_caches": TUPLE_CACHES,
    "loops": cases.LOOPS,
    "helpers": cases.HELPERS,
    "tensordot": cases.TENSORDOT,
    "namespace": cases.NAMESPACE,
}
COPIES = {  # copy: (original, its cells)
    "renamed": ("loops", cases.RENAMED),
    "reformatted": ("helpers", cases.REFORMATTED),
    "reordered": ("tensordot", cases.REORDERED),
    "commented": ("namespace", cases.COMMENTED),
    "one_changed": ("dict_caches", {**DICT_CACHES, "sigmoid": cases.ONE_CHANGED_SIGMOID}),
    "disguised": ("tuple_caches", cases.DISGUISED),
}


@pytest.fixture(scope="module")
def class_pairs():
    hand_ins = {name: _version(cells) for name, cells in INDEPENDENT.items()}
    hand_ins |= {name: _version(cells) for name, (_, cells) in COPIES.items()}
    pairs = compare_notebooks(EX, NB, RELEASED, hand_ins)
    return {(p.student_a, p.student_b): p for p in pairs}


def _key(a: str, b: str) -> tuple[str, str]:
    return (a, b) if a < b else (b, a)


@pytest.mark.parametrize("style", ["loops", "helpers", "tensordot", "namespace"])
def test_the_independent_styles_are_correct_solutions(style):
    rng = np.random.default_rng(0)
    ns: dict = {"np": np}
    for code in INDEPENDENT[style].values():
        exec(code, ns)  # noqa: S102 - the test's own code
    x, w, b = rng.standard_normal((4, 3, 2)), rng.standard_normal((6, 5)), rng.standard_normal(5)
    dout = rng.standard_normal((4, 5))
    out, cache = ns["affine_forward"](x, w, b)
    np.testing.assert_allclose(out, reference.affine_forward(x, w, b)[0])
    expected = reference.affine_backward(dout, reference.affine_forward(x, w, b)[1])
    for got, want in zip(ns["affine_backward"](dout, cache), expected, strict=True):
        np.testing.assert_allclose(got, want)
    z = rng.standard_normal((3, 4)) * 50
    z[0, 0] = 0.0
    dz = rng.standard_normal((3, 4))
    for name in ("relu", "sigmoid", "tanh", "leaky_relu"):
        fwd, bwd = ns[f"{name}_forward"], ns[f"{name}_backward"]
        ref_out, ref_cache = getattr(reference, f"{name}_forward")(z)
        got_out, got_cache = fwd(z.copy())
        np.testing.assert_allclose(got_out, ref_out, atol=1e-12, err_msg=name)
        np.testing.assert_allclose(bwd(dz.copy(), got_cache),
                                   getattr(reference, f"{name}_backward")(dz, ref_cache),
                                   atol=1e-12, err_msg=name)
    out, cache = ns["affine_relu_forward"](x, w, b)
    np.testing.assert_allclose(out, np.maximum(reference.affine_forward(x, w, b)[0], 0))
    assert len(ns["affine_relu_backward"](dout, cache)) == 3


def test_exactly_the_planted_copies_are_flagged(class_pairs):
    flagged = {pair for pair, match in class_pairs.items() if match.flagged}
    assert flagged == {_key(copy, original) for copy, (original, _) in COPIES.items()}


def test_copies_score_high_and_independent_solutions_low(class_pairs):
    copies = {_key(c, o): c for c, (o, _) in COPIES.items()}
    scores = {copies[k]: round(m.score, 3) for k, m in class_pairs.items() if k in copies}
    # renaming, reformatting and comments change nothing after normalisation
    assert scores["renamed"] == scores["reformatted"] == scores["commented"] == 1.0
    assert min(scores.values()) >= 0.6, scores
    independent = [m.score for k, m in class_pairs.items() if k not in copies]
    assert len(independent) == 78 - len(copies)
    assert max(independent) < 0.15, sorted(independent)[-3:]
    assert max(independent) < Settings().threshold < min(scores.values())


def test_a_copy_with_one_function_changed_shows_which_cells_match(class_pairs):
    match = class_pairs[_key("dict_caches", "one_changed")]
    by_cell = {c.key: c for c in match.cells}
    assert [c.key for c in match.cells] == [
        "affine_forward", "affine_backward", "relu", "sigmoid", "tanh", "leaky_relu", "affine_relu"
    ]
    assert {k for k, c in by_cell.items() if c.score == 1.0} == set(by_cell) - {"sigmoid"}
    assert by_cell["sigmoid"].score < 0.2


def test_shared_lines_are_marked_on_both_sides(class_pairs):
    match = class_pairs[_key("loops", "renamed")]
    cell = next(c for c in match.cells if c.key == "tanh")
    code_lines = [i for i, line in enumerate(cell.source_a.split("\n"), 1) if line.strip()]
    assert cell.lines_a == cell.lines_b == code_lines == [2, 5, 6, 7, 10, 11, 12]
    assert cell.source_b == cases.RENAMED["tanh"]


def test_normalised_tokens_ignore_names_layout_comments_and_docstrings():
    plain = "def f(a, b):\n    total = a + b\n    return np.sqrt(total, out=None)\n"
    disguised = (
        'def combine(left,\n            right):\n    """Add them."""\n    # the sum\n'
        "    s = (left\n         + right)  # why not\n    return (np.sqrt(s,\n                    "
        "out = None))\n"
    )
    assert [t for t, _ in normalized_tokens(plain)] == [t for t, _ in normalized_tokens(disguised)]
    assert normalized_tokens("y = np.maximum(x, 0)\n") == [
        ("Assign", 1), ("V", 1), ("Call", 1), ("V", 1), (".maximum", 1), ("V", 1), ("0.0", 1)
    ]
    # builtins, attribute and keyword names are kept; another operator is another token
    assert [t for t, _ in normalized_tokens("len(x.T, axis=1)")] == [
        "Expr", "Call", "len", "V", ".T", "axis=", "1.0"
    ]
    assert normalized_tokens("a - b") != normalized_tokens("a + b")


def test_code_that_does_not_parse_is_read_block_by_block():
    good = "def f(x):\n    return x * 2\n"
    broken = "%matplotlib inline\n" + good + "\ndef g(x:\n    return x\n"
    tokens = normalized_tokens(broken)
    assert tokens[: len(normalized_tokens(good))] == [
        (t, line + 1) for t, line in normalized_tokens(good)
    ]
    # the broken function through Python's tokenizer: keywords kept, names as V
    assert [t for t, line in tokens if line >= 5] == ["def", "V", "V", "return", "V"]


def test_winnowing_finds_every_long_enough_shared_run():
    settings = Settings()
    rng = np.random.default_rng(1)
    guarantee = settings.window + settings.k - 1
    shared = [(f"s{i}", 1) for i in range(guarantee)]
    for _ in range(20):
        a = [(f"a{rng.integers(1000)}", 1) for _ in range(rng.integers(0, 30))]
        b = [(f"b{rng.integers(1000)}", 1) for _ in range(rng.integers(0, 30))]
        prints_a = {h for h, _ in winnow(kgram_hashes(a + shared + a, settings.k), settings.window)}
        prints_b = {h for h, _ in winnow(kgram_hashes(b + shared, settings.k), settings.window)}
        assert prints_a & prints_b


def test_starter_code_and_blank_hand_ins_are_never_similar():
    blank = student_version(REPO, EX, NB, solved=[])
    pairs = compare_notebooks(EX, NB, RELEASED, {"a": blank, "b": blank, "c": _version(None)})
    assert [(p.student_a, p.student_b, p.score, p.shared, p.flagged) for p in pairs] == [
        ("a", "b", 0.0, 0, False), ("a", "c", 0.0, 0, False), ("b", "c", 0.0, 0, False)
    ]


HELPER = """
def check_batch(*arrays):
    sizes = [np.shape(a)[0] for a in arrays]
    for first, second in zip(sizes, sizes[1:]):
        if first != second:
            raise ValueError(f"batch sizes differ: {sizes}")
    finite = all(np.all(np.isfinite(a)) for a in arrays)
    return sizes[0], finite
"""


def test_code_much_of_the_class_shares_is_boilerplate():
    styles = ["solution", "dict_caches", "tuple_caches", "loops", "helpers", "tensordot"]

    def hand_ins(holders):
        notebooks = {style: _version(INDEPENDENT[style]) for style in styles}
        for style in holders:  # a cell of their own with the same helper
            notebooks[style].cells.append(nbformat.v4.new_code_cell(HELPER))
        return notebooks

    two = compare_notebooks(EX, NB, RELEASED, hand_ins(styles[:2]))
    assert [(p.student_a, p.student_b) for p in two if p.flagged] == [("dict_caches", "solution")]
    match = next(p for p in two if p.flagged)
    assert match.score < Settings().threshold
    assert [(c.key, c.score) for c in match.cells if c.score >= Settings().threshold] == [
        (OTHER_CODE, 1.0)
    ]
    # in all six hand-ins (more than max(4, half of 6)) it is ignored
    everyone = compare_notebooks(EX, NB, RELEASED, hand_ins(styles))
    assert [p for p in everyone if p.flagged] == []
    without = compare_notebooks(EX, NB, RELEASED, hand_ins([]))
    assert [p.score for p in everyone] == [p.score for p in without]


def test_one_copied_answer_cell_is_enough():
    copied = {**cases.TENSORDOT, "affine_backward": cases.LOOPS["affine_backward"]}
    hand_ins = {name: _version(INDEPENDENT[name]) for name in ("loops", "solution", "namespace")}
    hand_ins["copier"] = _version(copied)
    pairs = {(p.student_a, p.student_b): p for p in
             compare_notebooks(EX, NB, RELEASED, hand_ins)}
    match = pairs[("copier", "loops")]
    assert match.flagged and match.score < Settings().threshold
    cell = next(c for c in match.cells if c.key == "affine_backward")
    assert cell.score == 1.0 and cell.shared >= Settings().min_shared
    assert [k for k, p in pairs.items() if p.flagged] == [("copier", "loops")]


def test_compare_class_reads_the_graded_hand_ins(tmp_path):
    submitted = tmp_path / "submitted"
    for name in ("loops", "helpers"):
        write_notebook(_version(INDEPENDENT[name]), submitted / name / EX / f"{NB}.ipynb")
    copy = _version(cases.RENAMED)
    copy.cells.append(nbformat.v4.new_code_cell("print('my own extra cell')"))
    write_notebook(copy, submitted / "renamed" / EX / f"{NB}.ipynb")
    (submitted / "broken" / EX).mkdir(parents=True)
    (submitted / "broken" / EX / f"{NB}.ipynb").write_text("{ not json")
    pairs, notes = compare_class(REPO, tmp_path)
    assert notes == [f"broken/{EX}/{NB}: not compared (NotJSONError)"]
    assert [(p.student_a, p.student_b, p.flagged) for p in pairs] == [
        ("loops", "renamed", True), ("helpers", "loops", False), ("helpers", "renamed", False)
    ]
    assert pairs[0].cells[-1].key == OTHER_CODE
    assert pairs[0].cells[-1].source_b == "print('my own extra cell')"
    assert compare_class(REPO, tmp_path / "nowhere") == (
        [], [f"no {tmp_path / 'nowhere' / 'submitted'} folder: nothing to compare"]
    )


def test_settings_are_checked():
    for bad in ({"k": 0}, {"threshold": 0.0}, {"threshold": 1.5}, {"boilerplate_min": 1}):
        with pytest.raises(ValueError, match="similarity settings|must lie in"):
            Settings(**bad)


def test_every_pair_is_listed_once(class_pairs):
    names = sorted([*INDEPENDENT, *COPIES])
    assert sorted(class_pairs) == list(itertools.combinations(names, 2))


def test_code_too_deep_to_walk_is_still_read():
    tokens = normalized_tokens("total = " + " + ".join(["a"] * 5000))
    assert len(tokens) == 2 + 2 * 5000 - 1
    assert [t for t, _ in tokens[:4]] == ["V", "=", "V", "+"]
