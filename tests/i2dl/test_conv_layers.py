"""i2dl.layers.conv (naive and fast) against torch.nn.functional.conv2d in float64."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from i2dl.gradcheck import numerical_gradient_array
from i2dl.layers.conv import conv_backward, conv_backward_naive, conv_forward, conv_forward_naive

pytestmark = pytest.mark.layers

IMPLEMENTATIONS = {
    "naive": (conv_forward_naive, conv_backward_naive),
    "fast": (conv_forward, conv_backward),
}


def assert_close(actual, expected, rtol):
    """Every entry within ``rtol`` of the largest entry of ``expected`` (and of itself)."""
    assert actual.shape == expected.shape
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=rtol * np.abs(expected).max())


@st.composite
def conv_problems(draw, max_batch=3, max_channels=3, max_size=7):
    """Shapes and arguments with an output of at least 1x1, and the arrays drawn from a seed."""
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    stride, padding = draw(st.integers(1, 3)), draw(st.integers(0, 2))
    height = draw(st.integers(max(1, kh - 2 * padding), max_size))
    width = draw(st.integers(max(1, kw - 2 * padding), max_size))
    n, c, f = (draw(st.integers(1, top)) for top in (max_batch, max_channels, max_channels))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    x = rng.standard_normal((n, c, height, width))
    w = rng.standard_normal((f, c, kh, kw))
    b = rng.standard_normal(f)
    return x, w, b, stride, padding


def torch_conv(x, w, b, stride, padding, dout):
    """Output and (dx, dw, db) of torch's conv2d for the upstream gradient ``dout``."""
    tensors = [torch.tensor(a, requires_grad=True) for a in (x, w, b)]
    out = torch.nn.functional.conv2d(*tensors, stride=stride, padding=padding)
    out.backward(torch.tensor(dout))
    return out.detach().numpy(), [t.grad.numpy() for t in tensors]


@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
@settings(max_examples=30, deadline=None)
@given(problem=conv_problems(), seed=st.integers(0, 2**32 - 1))
def test_matches_torch(impl, problem, seed):
    forward, backward = IMPLEMENTATIONS[impl]
    x, w, b, stride, padding = problem
    out, cache = forward(x, w, b, stride=stride, padding=padding)
    dout = np.random.default_rng(seed).standard_normal(out.shape)
    expected_out, expected_grads = torch_conv(x, w, b, stride, padding, dout)
    assert_close(out, expected_out, rtol=1e-10)
    for grad, expected in zip(backward(dout, cache), expected_grads, strict=True):
        assert_close(grad, expected, rtol=1e-8)


@settings(max_examples=30, deadline=None)
@given(problem=conv_problems(), seed=st.integers(0, 2**32 - 1))
def test_naive_equals_fast(problem, seed):
    x, w, b, stride, padding = problem
    naive_out, naive_cache = conv_forward_naive(x, w, b, stride, padding)
    fast_out, fast_cache = conv_forward(x, w, b, stride, padding)
    assert_close(fast_out, naive_out, rtol=1e-12)
    dout = np.random.default_rng(seed).standard_normal(naive_out.shape)
    naive_grads = conv_backward_naive(dout, naive_cache)
    fast_grads = conv_backward(dout, fast_cache)
    for fast, naive in zip(fast_grads, naive_grads, strict=True):
        assert_close(fast, naive, rtol=1e-12)


@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
@pytest.mark.parametrize(
    ("x_shape", "w_shape", "stride", "padding"),
    [
        ((2, 2, 5, 5), (3, 2, 3, 3), 1, 1),
        ((1, 3, 6, 5), (2, 3, 2, 3), 2, 0),
        ((2, 1, 4, 7), (2, 1, 1, 2), 3, 2),
    ],
)
def test_gradients_match_central_differences(impl, x_shape, w_shape, stride, padding):
    forward, backward = IMPLEMENTATIONS[impl]
    rng = np.random.default_rng(0)
    x, w, b = (rng.standard_normal(shape) for shape in (x_shape, w_shape, w_shape[:1]))
    out, cache = forward(x, w, b, stride, padding)
    dout = rng.standard_normal(out.shape)
    dx, dw, db = backward(dout, cache)

    def out_of(x, w, b):
        # The fast forward keeps the many evaluations quick; it is checked against torch above.
        return conv_forward(x, w, b, stride, padding)[0]

    assert_close(dx, numerical_gradient_array(lambda v: out_of(v, w, b), x.copy(), dout), rtol=1e-7)
    assert_close(dw, numerical_gradient_array(lambda v: out_of(x, v, b), w.copy(), dout), rtol=1e-7)
    assert_close(db, numerical_gradient_array(lambda v: out_of(x, w, v), b.copy(), dout), rtol=1e-7)


@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
def test_inputs_are_not_modified(impl):
    forward, backward = IMPLEMENTATIONS[impl]
    rng = np.random.default_rng(1)
    args = [rng.standard_normal(shape) for shape in ((2, 3, 5, 4), (2, 3, 3, 2), (2,))]
    copies = [a.copy() for a in args]
    out, cache = forward(*args, stride=2, padding=1)
    dout = rng.standard_normal(out.shape)
    dout_copy = dout.copy()
    grads = backward(dout, cache)
    for arg, copy in zip(args, copies, strict=True):
        np.testing.assert_array_equal(arg, copy)
    np.testing.assert_array_equal(dout, dout_copy)
    for array in (out, *grads):
        assert not any(np.shares_memory(array, a) for a in (*args, dout))


def test_fast_output_is_contiguous():
    rng = np.random.default_rng(2)
    out, cache = conv_forward(
        rng.standard_normal((2, 3, 6, 6)),
        rng.standard_normal((4, 3, 3, 3)),
        rng.standard_normal(4),
        1,
        1,
    )
    dx, _, _ = conv_backward(rng.standard_normal(out.shape), cache)
    assert out.flags.c_contiguous and dx.flags.c_contiguous


@pytest.mark.parametrize("forward", [conv_forward_naive, conv_forward])
def test_kernel_that_does_not_fit_is_rejected(forward):
    x, w, b = np.zeros((1, 2, 4, 4)), np.zeros((3, 2, 5, 5)), np.zeros(3)
    with pytest.raises(ValueError, match=r"floor\(\(H \+ 2P - KH\)/S\) \+ 1 = 0") as info:
        forward(x, w, b)
    assert "(1, 2, 4, 4)" in str(info.value)
    out, _ = forward(x, w, b, padding=1)  # padding makes it fit
    assert out.shape == (1, 3, 2, 2)


@pytest.mark.parametrize("forward", [conv_forward_naive, conv_forward])
@pytest.mark.parametrize(
    ("x_shape", "w_shape", "b_shape", "kwargs", "message"),
    [
        ((1, 2, 4, 4), (3, 4, 3, 3), (3,), {}, r"\(1, 2, 4, 4\).*\(3, 4, 3, 3\)"),
        ((2, 4, 4), (3, 2, 3, 3), (3,), {}, r"\(N, C, H, W\)"),
        ((1, 2, 4, 4), (3, 2, 3), (3,), {}, r"\(F, C, KH, KW\)"),
        ((1, 2, 4, 4), (3, 2, 3, 3), (2,), {}, r"b must have shape \(3,\)"),
        ((1, 2, 4, 4), (3, 2, 3, 3), (3,), {"stride": 0}, "stride >= 1"),
        ((1, 2, 4, 4), (3, 2, 3, 3), (3,), {"padding": -1}, "padding >= 0"),
    ],
)
def test_bad_arguments_are_rejected(forward, x_shape, w_shape, b_shape, kwargs, message):
    with pytest.raises(ValueError, match=message):
        forward(np.zeros(x_shape), np.zeros(w_shape), np.zeros(b_shape), **kwargs)
