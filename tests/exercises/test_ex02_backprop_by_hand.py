"""ex02_backprop_by_hand: partial credit, other correct styles, each mistake costs its test."""

import pytest

from tests.exercises.conftest import grade_class, lost

pytestmark = pytest.mark.ex02

EX = NB = "ex02_backprop_by_hand"

# Caches of the inputs (recomputing in the backward pass), dict caches, np.nditer and flat-index
# loops, tanh for the sigmoid, a lambda over a copy of theta.
OTHER_STYLE = {
    "add_mul_forward": '''
def add_mul_forward(x, y, z):
    return (x + y) * z, (x, y, z)
''',
    "add_mul_backward": '''
def add_mul_backward(dout, cache):
    x, y, z = cache
    dq = dout * z
    return dq, dq, dout * (x + y)
''',
    "sigmoid_neuron_forward": '''
def sigmoid_neuron_forward(x, w, b):
    a = np.sum(np.multiply(w, x)) + b
    out = 0.5 * (1.0 + np.tanh(0.5 * a))
    return out, {"x": x, "w": w, "out": out}
''',
    "sigmoid_neuron_backward": '''
def sigmoid_neuron_backward(dout, cache):
    da = dout * cache["out"] * (1.0 - cache["out"])
    return da * cache["w"], da * cache["x"], da
''',
    "numerical_gradient": '''
def numerical_gradient(f, x, h=1e-5):
    grad = np.zeros(x.shape)
    it = np.nditer(x, flags=["multi_index"])
    for _ in it:
        i = it.multi_index
        saved = float(x[i])
        x[i] = saved + h
        up = f(x)
        x[i] = saved - h
        down = f(x)
        x[i] = saved
        grad[i] = (up - down) / (2 * h)
    return grad
''',
    "numerical_gradient_array": '''
def numerical_gradient_array(f, x, dout, h=1e-5):
    grad = np.zeros(x.shape)
    for k in range(x.size):
        saved = x.flat[k]
        x.flat[k] = saved + h
        up = f(x).copy()
        x.flat[k] = saved - h
        down = f(x).copy()
        x.flat[k] = saved
        grad.flat[k] = np.sum((up - down) * dout) / (2 * h)
    return grad
''',
    "rel_error": '''
def rel_error(a, b):
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return float((np.abs(a - b) / np.maximum(np.abs(a) + np.abs(b), 1e-8)).max())
''',
    "two_layer_forward": '''
def two_layer_forward(x, y, w1, b1, w2, b2):
    h = np.tanh(w1 * x + b1)
    y_hat = w2 * h + b2
    return np.mean((y_hat - y) ** 2), {"x": x, "y": y, "h": h, "y_hat": y_hat, "w2": w2}
''',
    "two_layer_backward": '''
def two_layer_backward(dout, cache):
    n = len(cache["x"])
    g = 2.0 * dout * (cache["y_hat"] - cache["y"]) / n
    ga = g * cache["w2"] * (1.0 - cache["h"] ** 2)
    return (np.sum(ga * cache["x"]), np.sum(ga), np.sum(g * cache["h"]), np.sum(g))
''',
    "two_layer_numerical_gradient": '''
def two_layer_numerical_gradient(x, y, theta):
    params = np.array(theta, dtype=np.float64)  # a copy: theta itself stays as it was
    return numerical_gradient(lambda p: two_layer_forward(x, y, *p)[0], params)
''',
}

# Classic mistakes, each with the tests it must cost (and nothing else).
MISTAKES = {
    "writes_dout": ({"add_mul_backward": [("dq = dout * z\n    dz = dout * q",
                                           "dz = dout * q\n    dq = dout\n    dq *= z")]},
                    {"test_add_mul_backward"}),
    "subtracts_h_again": ({"numerical_gradient": [("        x[index] = original\n",
                                                   "        x[index] += h\n")]},
                          {"test_numerical_gradient_bookkeeping"}),
    "rel_error_without_floor": ({"rel_error": [("np.maximum(1e-8, np.abs(a) + np.abs(b))",
                                                "(np.abs(a) + np.abs(b))")]},
                                {"test_rel_error"}),
    "sum_instead_of_mean": ({"two_layer_backward": [("/ residual.size", "")]},
                            {"test_two_layer_backward"}),
}

PARTIAL = {
    # add_mul (5 + 10), sigmoid neuron (5 + 10), numerical_gradient values and bookkeeping
    # (10 + 5), rel_error (5); numerical_gradient_array and the network are missing
    "graphs_and_checks": (["add_mul_forward", "add_mul_backward", "sigmoid_neuron_forward",
                           "sigmoid_neuron_backward", "numerical_gradient", "rel_error"], 50),
    # the network's forward (10) and backward (20); its numerical check also needs
    # numerical_gradient
    "network_only": (["two_layer_forward", "two_layer_backward"], 30),
}


def test_partial_credit_other_styles_and_classic_mistakes(tmp_path):
    results = grade_class(tmp_path, EX, NB, OTHER_STYLE, MISTAKES, PARTIAL)
    assert lost(results[("writes_dout", EX)])["test_add_mul_backward"] == (
        "AssertionError: add_mul_backward changed dout in place")
