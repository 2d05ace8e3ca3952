"""i2dl.layers.normalization against torch.nn.functional.batch_norm (training mode), float64."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from i2dl.gradcheck import numerical_gradient_array
from i2dl.layers.normalization import batchnorm_backward, batchnorm_forward

pytestmark = pytest.mark.layers


def assert_close(actual, expected, rtol):
    """Every entry within ``rtol`` of the largest entry of ``expected`` (and of itself)."""
    assert actual.shape == expected.shape
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=rtol * np.abs(expected).max())


@st.composite
def batchnorm_problems(draw):
    """``(x, gamma, beta, dout)`` for a 2-D ``(N, D)`` or a 4-D ``(N, C, H, W)`` input."""
    if draw(st.booleans()):
        shape = (draw(st.integers(2, 16)), draw(st.integers(1, 6)))
    else:
        n, c = draw(st.integers(1, 4)), draw(st.integers(1, 4))
        height, width = draw(st.integers(1, 5)), draw(st.integers(1, 5))
        if n * height * width < 2:
            n = 2
        shape = (n, c, height, width)
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    # Features with different means and scales, so that normalising actually does something.
    location = draw(st.floats(-5, 5))
    scale = draw(st.floats(0.1, 10))
    x = location + scale * rng.standard_normal(shape)
    gamma, beta = rng.standard_normal(shape[1]), rng.standard_normal(shape[1])
    return x, gamma, beta, rng.standard_normal(shape)


def torch_batchnorm(x, gamma, beta, eps, dout):
    tensors = [torch.tensor(a, requires_grad=True) for a in (x, gamma, beta)]
    out = torch.nn.functional.batch_norm(
        tensors[0], None, None, tensors[1], tensors[2], training=True, eps=eps
    )
    out.backward(torch.tensor(dout))
    return out.detach().numpy(), [t.grad.numpy() for t in tensors]


@settings(max_examples=40, deadline=None)
@given(problem=batchnorm_problems(), eps=st.sampled_from([1e-5, 1e-3, 0.5]))
def test_matches_torch(problem, eps):
    x, gamma, beta, dout = problem
    out, cache = batchnorm_forward(x, gamma, beta, eps=eps)
    expected_out, expected_grads = torch_batchnorm(x, gamma, beta, eps, dout)
    assert_close(out, expected_out, rtol=1e-10)
    for grad, expected in zip(batchnorm_backward(dout, cache), expected_grads, strict=True):
        assert_close(grad, expected, rtol=1e-8)


@pytest.mark.parametrize("shape", [(6, 3), (3, 2, 3, 2)])
def test_gradients_match_central_differences(shape):
    rng = np.random.default_rng(0)
    x = 2.0 + 3.0 * rng.standard_normal(shape)
    gamma, beta = rng.standard_normal(shape[1]), rng.standard_normal(shape[1])
    out, cache = batchnorm_forward(x, gamma, beta)
    dout = rng.standard_normal(shape)
    dx, dgamma, dbeta = batchnorm_backward(dout, cache)

    def out_of(x, gamma, beta):
        return batchnorm_forward(x, gamma, beta)[0]

    assert_close(
        dx, numerical_gradient_array(lambda v: out_of(v, gamma, beta), x.copy(), dout), 1e-7
    )
    assert_close(
        dgamma, numerical_gradient_array(lambda v: out_of(x, v, beta), gamma.copy(), dout), 1e-7
    )
    assert_close(
        dbeta, numerical_gradient_array(lambda v: out_of(x, gamma, v), beta.copy(), dout), 1e-7
    )


def test_output_is_normalised_per_feature():
    rng = np.random.default_rng(1)
    x = rng.normal(loc=[[-3.0, 0.0, 40.0]], scale=[[0.1, 1.0, 25.0]], size=(500, 3))
    out, _ = batchnorm_forward(x, gamma=np.ones(3), beta=np.zeros(3))
    np.testing.assert_allclose(out.mean(axis=0), 0.0, atol=1e-12)
    variance = x.var(axis=0)
    # Exactly 1 without eps; eps pulls a small variance measurably below 1.
    np.testing.assert_allclose(out.var(axis=0), variance / (variance + 1e-5), rtol=1e-10)


def test_spatial_input_is_normalised_per_channel():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((4, 3, 5, 6)) * np.array([1.0, 10.0, 0.1])[:, None, None]
    out, cache = batchnorm_forward(x, gamma=np.ones(3), beta=np.zeros(3))
    channels_last = np.moveaxis(x, 1, -1).reshape(-1, 3)
    expected, _ = batchnorm_forward(channels_last, gamma=np.ones(3), beta=np.zeros(3))
    assert_close(np.moveaxis(out, 1, -1).reshape(-1, 3), expected, rtol=1e-12)
    assert_close(cache.mean, channels_last.mean(axis=0), rtol=1e-12)


@pytest.mark.parametrize("shape", [(7, 4), (2, 4, 3, 3)])
def test_cache_holds_batch_mean_and_biased_variance(shape):
    x = np.random.default_rng(3).standard_normal(shape)
    _, cache = batchnorm_forward(x, np.ones(4), np.zeros(4))
    axes = (0,) if len(shape) == 2 else (0, 2, 3)
    assert_close(cache.mean, x.mean(axis=axes), rtol=1e-12)
    assert_close(cache.var, x.var(axis=axes, ddof=0), rtol=1e-12)


@pytest.mark.parametrize("shape", [(5, 3), (2, 3, 2, 4)])
def test_inputs_are_not_modified(shape):
    rng = np.random.default_rng(4)
    x, gamma, beta, dout = (rng.standard_normal(s) for s in (shape, (3,), (3,), shape))
    arrays = (x, gamma, beta, dout)
    copies = [a.copy() for a in arrays]
    out, cache = batchnorm_forward(x, gamma, beta)
    grads = batchnorm_backward(dout, cache)
    for array, copy in zip(arrays, copies, strict=True):
        np.testing.assert_array_equal(array, copy)
    for result in (out, *grads):
        assert not any(np.shares_memory(result, a) for a in arrays)


@pytest.mark.parametrize(
    ("x_shape", "param_shape", "message"),
    [
        ((4, 3, 2), (3,), r"\(N, D\) or \(N, C, H, W\)"),
        ((4, 3), (2,), r"shape \(3,\) for x of shape \(4, 3\)"),
        ((1, 3), (3,), "single value per feature"),
        ((1, 3, 1, 1), (3,), "single value per feature"),
    ],
)
def test_bad_arguments_are_rejected(x_shape, param_shape, message):
    with pytest.raises(ValueError, match=message):
        batchnorm_forward(np.zeros(x_shape), np.ones(param_shape), np.zeros(param_shape))
