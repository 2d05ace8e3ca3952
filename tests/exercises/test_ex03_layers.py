"""ex03_layers: partial credit, other correct styles, and each classic mistake costs its test."""

import pytest

from grader.sample import student_version
from tests.exercises.conftest import REPO, grade_hand_ins, grade_versions, lost, sub, total

pytestmark = pytest.mark.ex03

EX = NB = "ex03_layers"

# Dict caches, boolean masks, einsum, copy-then-assign, a sigmoid built by masking and
# recomputed in the backward pass, tanh's derivative as 1 / cosh^2.
DICT_CACHES = {
    "affine_forward": '''
def affine_forward(x, w, b):
    flat = np.reshape(x, (len(x), -1))
    return np.dot(flat, w) + b[np.newaxis, :], {"shape": x.shape, "flat": flat, "w": w}
''',
    "affine_backward": '''
def affine_backward(dout, cache):
    dx = np.dot(dout, cache["w"].T).reshape(cache["shape"])
    dw = np.einsum("nd,nm->dm", cache["flat"], dout)
    return dx, dw, np.sum(dout, axis=0)
''',
    "relu": '''
def relu_forward(x):
    out = x.copy()
    out[out < 0] = 0.0
    return out, out > 0


def relu_backward(dout, cache):
    dx = dout.copy()
    dx[~cache] = 0.0
    return dx
''',
    "sigmoid": '''
def sigmoid_forward(x):
    out = np.empty_like(x, dtype=np.float64)
    positive = x >= 0
    out[positive] = 1.0 / (1.0 + np.exp(-x[positive]))
    exp_x = np.exp(x[~positive])
    out[~positive] = exp_x / (1.0 + exp_x)
    return out, {"x": x}


def sigmoid_backward(dout, cache):
    s, _ = sigmoid_forward(cache["x"])
    return dout * s * (1.0 - s)
''',
    "tanh": '''
def tanh_forward(x):
    return np.tanh(x), x


def tanh_backward(dout, cache):
    return dout / np.cosh(cache) ** 2
''',
    "leaky_relu": '''
def leaky_relu_forward(x, negative_slope=0.01):
    scale = np.where(x > 0, 1.0, negative_slope)
    return x * scale, scale


def leaky_relu_backward(dout, cache):
    return dout * cache
''',
    "affine_relu": '''
def affine_relu_forward(x, w, b):
    a, fc_cache = affine_forward(x, w, b)
    out, relu_cache = relu_forward(a)
    return out, {"fc": fc_cache, "relu": relu_cache}


def affine_relu_backward(dout, cache):
    return affine_backward(relu_backward(dout, cache["relu"]), cache["fc"])
''',
}

# Three-part tuple caches, the tanh form of the sigmoid, np.maximum for the leaky ReLU, an
# explicit list cache for the sandwich.
TUPLE_CACHES = {
    "affine_forward": '''
def affine_forward(x, w, b):
    n = x.shape[0]
    return x.reshape(n, int(np.prod(x.shape[1:]))) @ w + b, (x, w, b)
''',
    "affine_backward": '''
def affine_backward(dout, cache):
    x, w, _ = cache
    dx = (dout @ w.T).reshape(*x.shape)
    dw = x.reshape(len(x), -1).T @ dout
    return dx, dw, dout.sum(0)
''',
    "relu": '''
def relu_forward(x):
    out = np.maximum(0, x)
    return out, out


def relu_backward(dout, cache):
    return np.where(cache > 0, dout, 0.0)
''',
    "sigmoid": '''
def sigmoid_forward(x):
    out = 0.5 * (1.0 + np.tanh(0.5 * x))
    return out, out


def sigmoid_backward(dout, cache):
    return dout * cache * (1.0 - cache)
''',
    "tanh": '''
def tanh_forward(x):
    out = np.tanh(x)
    return out, out


def tanh_backward(dout, cache):
    return dout * (1.0 - cache * cache)
''',
    "leaky_relu": '''
def leaky_relu_forward(x, negative_slope=0.01):
    return np.maximum(x, negative_slope * x), (x, negative_slope)


def leaky_relu_backward(dout, cache):
    x, slope = cache
    local = np.ones_like(x)
    local[x <= 0] = slope
    return local * dout
''',
    "affine_relu": '''
def affine_relu_forward(x, w, b):
    caches = []
    a, c = affine_forward(x, w, b)
    caches.append(c)
    out, c = relu_forward(a)
    caches.append(c)
    return out, caches


def affine_relu_backward(dout, cache):
    da = relu_backward(dout, cache[1])
    return affine_backward(da, cache[0])
''',
}


def _variant(rewrites):
    return student_version(REPO, EX, NB, rewrite={
        cell: (sub(*change) if isinstance(change, tuple) else lambda _s, code=change: code)
        for cell, change in rewrites.items()
    })


# Classic mistakes, each with the tests it must cost (and nothing else).
MISTAKES = {
    # dw averaged over the batch; the sandwich reuses affine_backward, so its dw is wrong too
    "dw_over_n": ({"affine_backward": ("dw = x_flat.T @ dout", "dw = x_flat.T @ dout / len(x)")},
                  {"test_affine_backward", "test_affine_relu_backward"}),
    "relu_kink": ({"relu": ("dx = dout * (x > 0)", "dx = dout * (x >= 0)")}, {"test_relu"}),
    "writes_dout": ({"relu": ("dx = dout * (x > 0)", "dout[x <= 0] = 0.0\n    dx = dout")},
                    {"test_relu"}),
    "writes_cache": ({"relu": ("dx = dout * (x > 0)", "x[x <= 0] = 0.0\n    dx = dout * (x > 0)")},
                     {"test_relu"}),
    "overwrites_x": ({"leaky_relu": ("out = np.where(x > 0, x, negative_slope * x)",
                                     "x[x < 0] *= negative_slope\n    out = x")},
                     {"test_leaky_relu"}),
    "unstable_sigmoid": ({"sigmoid": ("z / (1.0 + z)", "1.0 / (1.0 + np.exp(-x))")},
                         {"test_sigmoid_stable"}),
    "no_flatten": ({"affine_forward": ("x_flat = x.reshape(x.shape[0], -1)", "x_flat = x"),
                    "affine_backward": ("dx = (dout @ w.T).reshape(x.shape)", "dx = dout @ w.T")},
                   {"test_batch_shapes"}),
}


def test_other_styles_pass_and_each_mistake_costs_its_test(tmp_path):
    hand_ins = {("dict_caches", EX, NB): _variant(DICT_CACHES),
                ("tuple_caches", EX, NB): _variant(TUPLE_CACHES)}
    for student, (rewrites, _) in MISTAKES.items():
        hand_ins[(student, EX, NB)] = _variant(rewrites)
    results = grade_hand_ins(tmp_path, hand_ins, exercise=EX)
    for student in ("dict_caches", "tuple_caches"):
        assert lost(results[(student, EX)]) == {}, student
    for student, (_, expected) in MISTAKES.items():
        failed = lost(results[(student, EX)])
        assert set(failed) == expected, (student, failed)
    errors = {s: lost(results[(s, EX)]) for s in MISTAKES}
    assert errors["writes_dout"]["test_relu"] == (
        "AssertionError: relu_backward changed dout in place")
    assert errors["writes_cache"]["test_relu"] == (
        "AssertionError: relu_backward changed x (read from the cache) in place")
    assert errors["overwrites_x"]["test_leaky_relu"] == (
        "AssertionError: leaky_relu_forward changed x in place")
    assert total(results[("dw_over_n", EX)]) == 75
    assert total(results[("unstable_sigmoid", EX)]) == 90


def test_half_done_submission_earns_partial_credit(tmp_path):
    scores = grade_versions(
        tmp_path, EX, NB,
        {"half": ["affine_forward", "affine_backward", "relu", "sigmoid"]},
    )
    # affine forward/backward (25) + relu (10) + sigmoid values (10) and stability (10) + the
    # batch-shape check, which needs only the affine layer (10)
    assert scores["half"] == 65
