"""i2dl.layers.dense against PyTorch float64 autograd, and against its own gradient check."""

from __future__ import annotations

import re
import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from i2dl.gradcheck import check_gradients
from i2dl.layers import (
    affine_backward,
    affine_forward,
    leaky_relu_backward,
    leaky_relu_forward,
    relu_backward,
    relu_forward,
    sigmoid_backward,
    sigmoid_forward,
    tanh_backward,
    tanh_forward,
)
from tests.strategies import affine_inputs, float_arrays, seeds, shapes

pytestmark = pytest.mark.layers

FORWARD_RTOL = 1e-10
GRAD_RTOL = 1e-8

ACTIVATIONS = {
    "relu": (relu_forward, relu_backward, F.relu),
    "sigmoid": (sigmoid_forward, sigmoid_backward, torch.sigmoid),
    "tanh": (tanh_forward, tanh_backward, torch.tanh),
    "leaky_relu": (
        lambda x: leaky_relu_forward(x, 0.2),
        leaky_relu_backward,
        lambda x: F.leaky_relu(x, 0.2),
    ),
}


def frozen(array: np.ndarray) -> np.ndarray:
    """A read-only copy: any attempt to write into it raises, which proves nothing is mutated."""
    array = np.array(array, dtype=np.float64)
    array.flags.writeable = False
    return array


def torch_reference(fn, inputs, dout):
    """Output and input gradients of ``fn`` under PyTorch float64 autograd."""
    tensors = [torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in inputs]
    out = fn(*tensors)
    out.backward(torch.tensor(dout, dtype=torch.float64))
    return out.detach().numpy(), [t.grad.numpy() for t in tensors]


def assert_matches(actual, expected, rtol, scale=None):
    """Agreement to ``rtol`` relative to ``scale``, by default the largest entry of ``expected``.

    Rounding differences between numpy and PyTorch are relative to the size of the quantities
    involved, not to a possibly tiny result: the terms of a sum of mixed signs, or ``dout`` for
    activation gradients such as ``dout * (1 - out**2)`` with ``out`` within an ulp of 1.
    """
    if scale is None:
        scale = np.max(np.abs(expected), initial=0.0)
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=rtol * scale)


@settings(max_examples=40, deadline=None)
@given(inputs=affine_inputs(), data=st.data())
def test_affine_matches_torch_on_k_dimensional_input(inputs, data):
    x, w, b = (frozen(a) for a in inputs)
    dout = frozen(data.draw(float_arrays((x.shape[0], w.shape[1]))))
    x_flat = np.abs(x.reshape(x.shape[0], -1))

    out, cache = affine_forward(x, w, b)
    dx, dw, db = affine_backward(dout, cache)
    expected_out, (expected_dx, expected_dw, expected_db) = torch_reference(
        lambda x, w, b: F.linear(x.flatten(1), w.T, b), (x, w, b), dout
    )

    assert out.shape == (x.shape[0], w.shape[1]) and dx.shape == x.shape
    assert_matches(out, expected_out, FORWARD_RTOL, np.max(x_flat @ np.abs(w) + np.abs(b)))
    assert_matches(dx, expected_dx, GRAD_RTOL, np.max(np.abs(dout) @ np.abs(w).T))
    assert_matches(dw, expected_dw, GRAD_RTOL, np.max(x_flat.T @ np.abs(dout)))
    assert_matches(db, expected_db, GRAD_RTOL, np.max(np.abs(dout).sum(axis=0)))


@pytest.mark.parametrize("name", ["relu", "sigmoid", "tanh"])
@settings(max_examples=30, deadline=None)
@given(x=float_arrays(shapes()), data=st.data())
def test_activation_matches_torch(name, x, data):
    forward, backward, torch_fn = ACTIVATIONS[name]
    x = frozen(x)
    dout = frozen(data.draw(float_arrays(x.shape)))

    out, cache = forward(x)
    dx = backward(dout, cache)
    expected_out, (expected_dx,) = torch_reference(torch_fn, (x,), dout)

    assert_matches(out, expected_out, FORWARD_RTOL)
    assert_matches(dx, expected_dx, GRAD_RTOL, np.max(np.abs(dout), initial=0.0))


@settings(max_examples=40, deadline=None)
@given(x=float_arrays(shapes()), negative_slope=st.floats(0.0, 1.0), data=st.data())
def test_leaky_relu_matches_torch_for_drawn_slope(x, negative_slope, data):
    x = frozen(x)
    dout = frozen(data.draw(float_arrays(x.shape)))

    out, cache = leaky_relu_forward(x, negative_slope=negative_slope)
    dx = leaky_relu_backward(dout, cache)
    expected_out, (expected_dx,) = torch_reference(
        lambda t: F.leaky_relu(t, negative_slope), (x,), dout
    )

    assert_matches(out, expected_out, FORWARD_RTOL)
    assert_matches(dx, expected_dx, GRAD_RTOL, np.max(np.abs(dout), initial=0.0))


@pytest.mark.parametrize(
    ("name", "expected_dx"), [("relu", [0.0, 0.0, 5.0]), ("leaky_relu", [0.4, 0.6, 5.0])]
)
def test_gradient_at_the_kink_follows_torch(name, expected_dx):
    forward, backward, torch_fn = ACTIVATIONS[name]
    x, dout = np.array([-1.0, 0.0, 1.0]), np.array([2.0, 3.0, 5.0])

    dx = backward(dout, forward(x)[1])
    _, (torch_dx,) = torch_reference(torch_fn, (x,), dout)

    np.testing.assert_allclose(dx, expected_dx, rtol=1e-15)
    np.testing.assert_array_equal(dx, torch_dx)


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
@settings(max_examples=25, deadline=None)
@given(x=float_arrays(shapes(max_dims=2), -1e3, 1e3), data=st.data())
def test_activation_is_stable_for_large_inputs(name, x, data):
    forward, backward, torch_fn = ACTIVATIONS[name]
    x = np.concatenate([x.ravel(), [-1e3, -710.0, 0.0, 710.0, 1e3]])
    dout = data.draw(float_arrays(x.shape))

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(all="raise", under="ignore"):
            out, cache = forward(x)
            dx = backward(dout, cache)
    expected_out, (expected_dx,) = torch_reference(torch_fn, (x,), dout)

    assert np.isfinite(out).all() and np.isfinite(dx).all()
    assert_matches(out, expected_out, FORWARD_RTOL)
    assert_matches(dx, expected_dx, GRAD_RTOL, np.max(np.abs(dout), initial=0.0))


def _away_from_zero(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Values with 0.1 <= |v| <= 2: no ReLU kink within reach of the finite differences, and no
    saturation of sigmoid or tanh, where a relative error of tiny gradients says nothing."""
    return rng.choice([-1.0, 1.0], size=shape) * rng.uniform(0.1, 2.0, size=shape)


@settings(max_examples=25, deadline=None)
@given(shape=shapes(min_dims=2, max_dims=4, max_side=4), m=st.integers(1, 5), seed=seeds)
def test_affine_passes_check_gradients(shape, m, seed):
    rng = np.random.default_rng(seed)
    d = int(np.prod(shape[1:]))
    inputs = {"x": rng.normal(size=shape), "w": rng.normal(size=(d, m)), "b": rng.normal(size=m)}

    # The layer is linear in each input, so central differences are exact for any step; a large
    # step keeps rounding error far below the tolerance even where a gradient entry nearly
    # cancels to zero.
    errors = check_gradients(affine_forward, affine_backward, inputs, rtol=1e-7, h=1.0, seed=seed)

    assert set(errors) == {"x", "w", "b"}


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
@settings(max_examples=25, deadline=None)
@given(shape=shapes(max_dims=3), seed=seeds)
def test_activation_passes_check_gradients(name, shape, seed):
    forward, backward, _ = ACTIVATIONS[name]
    rng = np.random.default_rng(seed)

    errors = check_gradients(forward, backward, {"x": _away_from_zero(rng, shape)}, rtol=1e-7)

    assert list(errors) == ["x"]


@pytest.mark.parametrize(
    ("x_shape", "w_shape", "b_shape", "named"),
    [
        ((2, 3), (4, 5), (5,), ["(2, 3)", "(4, 5)"]),
        ((2, 3, 2), (5, 1), (1,), ["(2, 3, 2)", "(5, 1)", "D = 6"]),
        ((2, 3), (3, 5), (4,), ["(5,)", "(4,)"]),
        ((6,), (6, 5), (5,), ["(6,)", "x[None]"]),
        ((2, 3), (3,), (5,), ["(3,)"]),
    ],
)
def test_affine_forward_names_mismatched_shapes(x_shape, w_shape, b_shape, named):
    with pytest.raises(ValueError) as error:
        affine_forward(np.zeros(x_shape), np.zeros(w_shape), np.zeros(b_shape))

    for text in named:
        assert text in str(error.value)


@pytest.mark.parametrize("name", ["affine", *sorted(ACTIVATIONS)])
def test_backward_rejects_dout_of_the_wrong_shape(name):
    if name == "affine":
        forward, backward = (
            lambda x: affine_forward(x, np.ones((3, 4)), np.ones(4)),
            affine_backward,
        )
    else:
        forward, backward, _ = ACTIVATIONS[name]
    out, cache = forward(np.ones((2, 3)))

    with pytest.raises(ValueError, match=re.escape(f"output {out.shape}, got (3, 2)")):
        backward(np.ones((3, 2)), cache)


def test_integer_input_is_computed_in_float64():
    out, cache = affine_forward(np.array([[1, 2]]), np.array([[1], [1]]), np.array([0]))
    dx, _, _ = affine_backward(np.array([[0.5]]), cache)

    assert out.dtype == np.float64 and dx.dtype == np.float64
    np.testing.assert_array_equal(dx, [[0.5, 0.5]])
