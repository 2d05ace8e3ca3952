"""i2dl.losses against PyTorch float64 autograd (reduction='mean')."""

from __future__ import annotations

import re
import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from i2dl.losses import (
    bce_loss,
    bce_with_logits_loss,
    cross_entropy_loss,
    hinge_loss,
    l1_loss,
    mse_loss,
)
from tests.strategies import float_arrays, scores_and_labels, shapes

pytestmark = pytest.mark.losses

LOSS_RTOL = 1e-10
GRAD_RTOL = 1e-8


def frozen(array: np.ndarray) -> np.ndarray:
    """A read-only copy: any attempt to write into it raises, which proves nothing is mutated."""
    array = np.array(array)
    array.flags.writeable = False
    return array


def run_strictly(loss_fn, prediction, target):
    """Call ``loss_fn`` turning every warning and floating point overflow or nan into an error."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(all="raise", under="ignore"):
            loss, grad = loss_fn(frozen(prediction), frozen(target))
    assert type(loss) is float
    assert grad.shape == np.shape(prediction) and grad.dtype == np.float64
    assert np.isfinite(loss) and np.isfinite(grad).all()
    return loss, grad


def torch_reference(torch_fn, prediction, target):
    """Loss and gradient with respect to ``prediction`` under PyTorch float64 autograd."""
    prediction = torch.tensor(prediction, dtype=torch.float64, requires_grad=True)
    loss = torch_fn(prediction, torch.as_tensor(target))
    loss.backward()
    return loss.item(), prediction.grad.numpy()


def torch_hinge(scores, y):
    """Multiclass SVM loss built from torch ops (F.multi_margin_loss would divide by C)."""
    margins = torch.relu(scores - scores.gather(1, y[:, None]) + 1.0)
    others = F.one_hot(y, scores.shape[1]) == 0
    return (margins * others).sum() / scores.shape[0]


def assert_matches(actual, expected, rtol, scale):
    """Agreement to ``rtol`` relative to ``scale``, the size of the quantities involved.

    Where the result is a small difference of large numbers (sigmoid(z) - y, a loss near 0 at
    |scores| = 1e3), numpy and PyTorch may round differently by about eps * scale.
    """
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=rtol * scale)


@st.composite
def prediction_and_target(draw, low=-10.0, high=10.0, target_low=-10.0, target_high=10.0):
    shape = draw(shapes())
    return draw(float_arrays(shape, low, high)), draw(float_arrays(shape, target_low, target_high))


@pytest.mark.parametrize(("loss_fn", "torch_fn"), [(mse_loss, F.mse_loss), (l1_loss, F.l1_loss)])
@settings(max_examples=40, deadline=None)
@given(arrays=prediction_and_target())
def test_regression_loss_matches_torch(loss_fn, torch_fn, arrays):
    prediction, target = arrays

    loss, grad = run_strictly(loss_fn, prediction, target)
    expected_loss, expected_grad = torch_reference(torch_fn, prediction, target)

    assert_matches(loss, expected_loss, LOSS_RTOL, 0.0)
    assert_matches(grad, expected_grad, GRAD_RTOL, 0.0)


def test_l1_gradient_is_zero_where_prediction_equals_target():
    prediction, target = np.array([1.0, 2.0, 3.0]), np.array([1.0, 0.0, 5.0])

    _, grad = l1_loss(prediction, target)
    _, expected_grad = torch_reference(F.l1_loss, prediction, target)

    np.testing.assert_allclose(grad, [0.0, 1 / 3, -1 / 3], rtol=1e-15)
    np.testing.assert_array_equal(grad, expected_grad)


@settings(max_examples=40, deadline=None)
@given(arrays=prediction_and_target(0.0, 1.0, 0.0, 1.0))
def test_bce_matches_torch_including_clamped_logs(arrays):
    p, y = arrays
    p = p.copy()
    p.flat[0] = 0.0  # log(0) must be clamped at -100, as in torch

    loss, grad = run_strictly(bce_loss, p, y)
    expected_loss, expected_grad = torch_reference(F.binary_cross_entropy, p, y)

    assert_matches(loss, expected_loss, LOSS_RTOL, 0.0)
    assert_matches(grad, expected_grad, GRAD_RTOL, 0.0)


def test_bce_of_a_confident_mistake_costs_100():
    loss, _ = bce_loss(np.array([0.0, 1.0]), np.array([1.0, 0.0]))

    assert loss == pytest.approx(100.0, rel=1e-15)


@pytest.mark.parametrize("scale", [10.0, 1e3])
@settings(max_examples=40, deadline=None)
@given(arrays=prediction_and_target(target_low=0.0, target_high=1.0), data=st.data())
def test_bce_with_logits_matches_torch_and_stays_finite(scale, arrays, data):
    z, y = arrays
    z = np.concatenate([z.ravel() * (scale / 10.0), [-scale, scale]])
    y = np.concatenate([y.ravel(), data.draw(float_arrays((2,), 0.0, 1.0))])

    loss, grad = run_strictly(bce_with_logits_loss, z, y)
    expected_loss, expected_grad = torch_reference(F.binary_cross_entropy_with_logits, z, y)

    assert_matches(loss, expected_loss, LOSS_RTOL, 1.0 + np.mean(np.abs(z)))
    assert_matches(grad, expected_grad, GRAD_RTOL, 1.0 / z.size)


@pytest.mark.parametrize(
    ("loss_fn", "torch_fn"), [(cross_entropy_loss, F.cross_entropy), (hinge_loss, torch_hinge)]
)
@pytest.mark.parametrize("scale", [10.0, 1e3])
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_classification_loss_matches_torch_and_stays_finite(loss_fn, torch_fn, scale, data):
    scores, y = data.draw(scores_and_labels(scale=scale))
    n = scores.shape[0]

    loss, grad = run_strictly(loss_fn, scores, y)
    expected_loss, expected_grad = torch_reference(torch_fn, scores, y)

    assert_matches(loss, expected_loss, LOSS_RTOL, max(1.0, np.max(np.abs(scores))))
    assert_matches(grad, expected_grad, GRAD_RTOL, 1.0 / n)


@pytest.mark.parametrize(
    ("loss_fn", "torch_fn"), [(cross_entropy_loss, F.cross_entropy), (hinge_loss, torch_hinge)]
)
def test_classification_loss_at_extreme_scores(loss_fn, torch_fn):
    scores = np.array([[1e3, -1e3, 0.0], [-1e3, 1e3, 1e3], [0.0, 0.0, 0.0]])
    y = np.array([1, 0, 2])

    loss, grad = run_strictly(loss_fn, scores, y)
    expected_loss, expected_grad = torch_reference(torch_fn, scores, y)

    assert loss > 1e3
    assert_matches(loss, expected_loss, LOSS_RTOL, 1e3)
    assert_matches(grad, expected_grad, GRAD_RTOL, 1.0 / 3)


def test_hinge_counts_each_violated_margin():
    scores = np.array([[3.0, 1.0, 2.5], [0.0, 5.0, 4.0]])
    y = np.array([0, 1])

    loss, grad = hinge_loss(scores, y)

    # Row 0: only class 2 violates (2.5 - 3 + 1 = 0.5). Row 1: class 2 gives 4 - 5 + 1 = 0,
    # exactly on the margin, which counts as satisfied.
    assert loss == pytest.approx(0.5 / 2, rel=1e-15)
    np.testing.assert_array_equal(grad, [[-0.5, 0.0, 0.5], [0.0, 0.0, 0.0]])


@pytest.mark.parametrize("loss_fn", [mse_loss, l1_loss, bce_loss, bce_with_logits_loss])
def test_elementwise_losses_reject_shape_mismatch_instead_of_broadcasting(loss_fn):
    with pytest.raises(ValueError, match=re.escape("prediction (3,) and target (3, 1)")):
        loss_fn(np.full(3, 0.5), np.full((3, 1), 0.5))


@pytest.mark.parametrize("loss_fn", [mse_loss, l1_loss, bce_loss, bce_with_logits_loss])
def test_elementwise_losses_reject_empty_batch(loss_fn):
    with pytest.raises(ValueError, match="empty"):
        loss_fn(np.zeros((0, 2)), np.zeros((0, 2)))


@pytest.mark.parametrize("bad_p", [-0.1, 1.5, np.nan])
def test_bce_rejects_values_that_are_not_probabilities(bad_p):
    with pytest.raises(ValueError, match="bce_with_logits_loss"):
        bce_loss(np.array([0.5, bad_p]), np.array([1.0, 0.0]))


@pytest.mark.parametrize("loss_fn", [cross_entropy_loss, hinge_loss])
@pytest.mark.parametrize(
    ("scores_shape", "y", "message"),
    [
        ((2, 3), np.array([0, 3]), "[0, 2]"),
        ((2, 3), np.array([-1, 0]), "from -1 to 0"),
        ((2, 3), np.array([0.0, 1.0]), "astype(np.int64)"),
        ((2, 3), np.array([0, 1, 2]), "shape (2,) for scores of shape (2, 3), got shape (3,)"),
        ((2, 3), np.array([[0], [1]]), "got shape (2, 1)"),
        ((3,), np.array([0, 1, 2]), "(N, C)"),
        ((0, 3), np.array([], dtype=int), "(N, C)"),
    ],
)
def test_classification_losses_validate_labels(loss_fn, scores_shape, y, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        loss_fn(np.zeros(scores_shape), y)
