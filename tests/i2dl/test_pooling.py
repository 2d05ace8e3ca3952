"""i2dl.layers.pooling against torch.nn.functional.max_pool2d / avg_pool2d in float64."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from i2dl.gradcheck import numerical_gradient_array
from i2dl.layers.pooling import (
    avg_pool_backward,
    avg_pool_forward,
    max_pool_backward,
    max_pool_forward,
)

pytestmark = pytest.mark.layers

POOLS = {
    "max": (max_pool_forward, max_pool_backward, torch.nn.functional.max_pool2d),
    "avg": (avg_pool_forward, avg_pool_backward, torch.nn.functional.avg_pool2d),
}


def assert_close(actual, expected, rtol):
    """Every entry within ``rtol`` of the largest entry of ``expected`` (and of itself)."""
    assert actual.shape == expected.shape
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=rtol * np.abs(expected).max())


@st.composite
def pool_problems(draw):
    """An input with at least one window, plus kernel_size, stride and a seed for dout."""
    kernel_size, stride = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    height, width = draw(st.integers(kernel_size, 9)), draw(st.integers(kernel_size, 9))
    n, c = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    # Continuous values, so max pooling never sees a tie.
    return rng.standard_normal((n, c, height, width)), kernel_size, stride, rng


def torch_pool(pool, x, kernel_size, stride, dout):
    tensor = torch.tensor(x, requires_grad=True)
    out = pool(tensor, kernel_size, stride)
    out.backward(torch.tensor(dout))
    return out.detach().numpy(), tensor.grad.numpy()


@pytest.mark.parametrize("kind", POOLS)
@settings(max_examples=40, deadline=None)
@given(problem=pool_problems())
def test_matches_torch(kind, problem):
    forward, backward, torch_pool_fn = POOLS[kind]
    x, kernel_size, stride, rng = problem
    out, cache = forward(x, kernel_size=kernel_size, stride=stride)
    dout = rng.standard_normal(out.shape)
    expected_out, expected_dx = torch_pool(torch_pool_fn, x, kernel_size, stride, dout)
    assert_close(out, expected_out, rtol=1e-10)
    assert_close(backward(dout, cache), expected_dx, rtol=1e-8)


@pytest.mark.parametrize("kind", POOLS)
@pytest.mark.parametrize(("kernel_size", "stride"), [(2, 2), (3, 1), (2, 3), (3, 2)])
def test_gradient_matches_central_differences(kind, kernel_size, stride):
    forward, backward, _ = POOLS[kind]
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 2, 7, 6))
    out, cache = forward(x, kernel_size, stride)
    dout = rng.standard_normal(out.shape)
    numerical = numerical_gradient_array(
        lambda v: forward(v, kernel_size, stride)[0], x.copy(), dout
    )
    assert_close(backward(dout, cache), numerical, rtol=1e-7)


def test_max_pool_ties_go_to_one_element_like_torch():
    rng = np.random.default_rng(3)
    x = rng.integers(0, 2, size=(2, 3, 7, 7)).astype(np.float64)  # many ties
    out, cache = max_pool_forward(x, kernel_size=3, stride=2)
    dout = rng.standard_normal(out.shape)
    dx = max_pool_backward(dout, cache)
    _, expected_dx = torch_pool(torch.nn.functional.max_pool2d, x, 3, 2, dout)
    assert_close(dx, expected_dx, rtol=1e-12)
    # Non-overlapping windows: exactly one pixel per window receives the window's gradient.
    out, cache = max_pool_forward(np.zeros((1, 1, 4, 4)))
    dx = max_pool_backward(np.ones(out.shape), cache)
    assert np.count_nonzero(dx) == out.size
    assert dx.sum() == out.size


def test_default_is_2x2_windows_with_stride_2():
    x = np.arange(16.0).reshape(1, 1, 4, 4)
    assert max_pool_forward(x)[0].tolist() == [[[[5.0, 7.0], [13.0, 15.0]]]]
    assert avg_pool_forward(x)[0].tolist() == [[[[2.5, 4.5], [10.5, 12.5]]]]


@pytest.mark.parametrize("kind", POOLS)
def test_inputs_are_not_modified(kind):
    forward, backward, _ = POOLS[kind]
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 3, 6, 5))
    x_copy = x.copy()
    out, cache = forward(x, kernel_size=3, stride=1)
    dout = rng.standard_normal(out.shape)
    dout_copy = dout.copy()
    dx = backward(dout, cache)
    np.testing.assert_array_equal(x, x_copy)
    np.testing.assert_array_equal(dout, dout_copy)
    for array in (out, dx):
        assert not np.shares_memory(array, x) and not np.shares_memory(array, dout)


@pytest.mark.parametrize("forward", [max_pool_forward, avg_pool_forward])
def test_window_that_does_not_fit_is_rejected(forward):
    with pytest.raises(ValueError, match=r"\(1, 2, 3, 5\).*floor\(\(H - K\)/S\) \+ 1 = 0"):
        forward(np.zeros((1, 2, 3, 5)), kernel_size=4, stride=1)


@pytest.mark.parametrize("forward", [max_pool_forward, avg_pool_forward])
@pytest.mark.parametrize(
    ("shape", "kwargs", "message"),
    [
        ((2, 4, 4), {}, r"\(N, C, H, W\)"),
        ((1, 1, 4, 4), {"kernel_size": 0}, "kernel_size >= 1"),
        ((1, 1, 4, 4), {"stride": 0}, "stride >= 1"),
    ],
)
def test_bad_arguments_are_rejected(forward, shape, kwargs, message):
    with pytest.raises(ValueError, match=message):
        forward(np.zeros(shape), **kwargs)
