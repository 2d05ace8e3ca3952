"""i2dl.layers.regularization: inverted dropout in training mode.

PyTorch draws its masks from its own generator, so instead of comparing masks entry by entry these
tests check the properties that define inverted dropout.
"""

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from i2dl.gradcheck import numerical_gradient_array
from i2dl.layers.regularization import dropout_backward, dropout_forward

pytestmark = pytest.mark.layers


@pytest.mark.parametrize("p", [0.1, 0.5, 0.8])
def test_mask_statistics(p):
    size = 200_000
    out, _ = dropout_forward(np.ones(size), p, np.random.default_rng(0))
    kept = out != 0
    # The fraction kept is a mean of `size` Bernoulli(1 - p) draws: allow five standard errors.
    assert abs(kept.mean() - (1 - p)) < 5 * np.sqrt(p * (1 - p) / size)
    np.testing.assert_allclose(out[kept], 1 / (1 - p), rtol=1e-15)
    assert abs(out.mean() - 1) < 5 * np.sqrt(p / (1 - p) / size)  # expectation preserved


@settings(max_examples=30, deadline=None)
@given(
    shape=st.lists(st.integers(1, 5), min_size=1, max_size=4).map(tuple),
    p=st.floats(0.0, 0.95),
    seed=st.integers(0, 2**32 - 1),
)
def test_backward_uses_the_forward_mask(shape, p, seed):
    rng = np.random.default_rng(seed)
    x, dout = rng.standard_normal(shape), rng.standard_normal(shape)
    out, cache = dropout_forward(x, p, rng)
    dx = dropout_backward(dout, cache)
    kept = out != 0
    np.testing.assert_allclose(out[kept], x[kept] / (1 - p), rtol=1e-15)
    np.testing.assert_allclose(dx[kept], dout[kept] / (1 - p), rtol=1e-15)
    assert np.all(dx[~kept] == 0)


def test_gradient_matches_central_differences():
    rng = np.random.default_rng(1)
    x, dout = rng.standard_normal((4, 5)), rng.standard_normal((4, 5))
    out, cache = dropout_forward(x, 0.3, np.random.default_rng(7))
    # A fresh generator with the same seed reproduces the mask for every evaluation.
    numerical = numerical_gradient_array(
        lambda v: dropout_forward(v, 0.3, np.random.default_rng(7))[0], x.copy(), dout
    )
    np.testing.assert_allclose(dropout_backward(dout, cache), numerical, rtol=1e-7, atol=1e-9)


def test_same_seed_gives_same_mask_and_different_seeds_do_not():
    x = np.ones((20, 30))
    first, _ = dropout_forward(x, 0.5, np.random.default_rng(42))
    again, _ = dropout_forward(x, 0.5, np.random.default_rng(42))
    other, _ = dropout_forward(x, 0.5, np.random.default_rng(43))
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)


def test_p_zero_is_the_identity():
    rng = np.random.default_rng(2)
    x, dout = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    out, cache = dropout_forward(x, 0.0, rng)
    np.testing.assert_array_equal(out, x)
    np.testing.assert_array_equal(dropout_backward(dout, cache), dout)


def test_p_one_gives_zeros_without_dividing_by_zero():
    rng = np.random.default_rng(3)
    x, dout = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    with warnings.catch_warnings(), np.errstate(all="raise"):
        warnings.simplefilter("error")
        out, cache = dropout_forward(x, 1.0, rng)
        dx = dropout_backward(dout, cache)
    assert np.all(out == 0) and np.all(dx == 0)


def test_inputs_are_not_modified():
    rng = np.random.default_rng(4)
    x, dout = rng.standard_normal((6, 7)), rng.standard_normal((6, 7))
    x_copy, dout_copy = x.copy(), dout.copy()
    out, cache = dropout_forward(x, 0.5, rng)
    dx = dropout_backward(dout, cache)
    np.testing.assert_array_equal(x, x_copy)
    np.testing.assert_array_equal(dout, dout_copy)
    for array in (out, dx):
        assert not np.shares_memory(array, x) and not np.shares_memory(array, dout)


@pytest.mark.parametrize("p", [-0.1, 1.5, float("nan")])
def test_probability_outside_unit_interval_is_rejected(p):
    with pytest.raises(ValueError, match=r"must lie in \[0, 1\]"):
        dropout_forward(np.ones(3), p, np.random.default_rng(0))


@pytest.mark.parametrize("rng", [None, 0, np.random.RandomState(0)])
def test_rng_must_be_a_generator(rng):
    with pytest.raises(TypeError, match=r"default_rng"):
        dropout_forward(np.ones(3), 0.5, rng)
