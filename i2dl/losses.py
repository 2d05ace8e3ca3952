"""Loss functions that return the loss and its gradient with respect to the prediction.

Every function returns ``(loss, dprediction)``: ``loss`` is a Python float averaged over the batch
(PyTorch's ``reduction='mean'``) and ``dprediction`` has the shape of the prediction, ready to be
passed as ``dout`` to the backward pass of the last layer.

Values and gradients equal those of the PyTorch function named in each docstring, including
its conventions at non-differentiable points and its clipping of ``log(0)``.
"""

from __future__ import annotations

import numpy as np

from i2dl.layers.dense import sigmoid_forward

__all__ = [
    "mse_loss",
    "l1_loss",
    "bce_loss",
    "bce_with_logits_loss",
    "cross_entropy_loss",
    "hinge_loss",
]

# torch.nn.functional.binary_cross_entropy clamps log(p) at -100 so that p = 0 costs 100, not inf,
# and keeps the gradient's denominator p * (1 - p) at least 1e-12.
_BCE_LOG_FLOOR = -100.0
_BCE_EPS = 1e-12


def _prediction_and_target(
    prediction: np.ndarray, target: np.ndarray, loss: str
) -> tuple[np.ndarray, np.ndarray]:
    """Both arrays as float64, after checking they have the same, non-empty shape."""
    prediction = np.asarray(prediction, dtype=np.float64)
    target = np.asarray(target, dtype=np.float64)
    if prediction.shape != target.shape:
        raise ValueError(
            f"{loss}: prediction and target must have the same shape, got prediction "
            f"{prediction.shape} and target {target.shape}"
        )
    if prediction.size == 0:
        raise ValueError(
            f"{loss}: the mean over an empty batch is undefined (shape {target.shape})"
        )
    return prediction, target


def _scores_and_labels(
    scores: np.ndarray, y: np.ndarray, loss: str
) -> tuple[np.ndarray, np.ndarray]:
    """Scores as float64 and labels as integers, after checking shapes and the label range."""
    scores = np.asarray(scores, dtype=np.float64)
    y = np.asarray(y)
    if scores.ndim != 2 or scores.shape[0] == 0 or scores.shape[1] == 0:
        raise ValueError(
            f"{loss}: scores must have shape (N, C) with N, C >= 1, got {scores.shape}"
        )
    n, c = scores.shape
    if y.shape != (n,):
        raise ValueError(
            f"{loss}: y must hold one label per example, shape ({n},) for scores of shape "
            f"{scores.shape}, got shape {y.shape}"
        )
    if not np.issubdtype(y.dtype, np.integer):
        raise ValueError(
            f"{loss}: y must hold integer class labels, got dtype {y.dtype}; "
            "convert with y.astype(np.int64)"
        )
    if y.min() < 0 or y.max() >= c:
        raise ValueError(
            f"{loss}: labels must lie in [0, {c - 1}] for C = {c} classes, "
            f"found labels from {y.min()} to {y.max()}"
        )
    return scores, y


def mse_loss(y_hat: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """Mean squared error, like ``F.mse_loss``.

    ``loss = mean((y_hat - y)**2)`` over all entries.

    Parameters
    ----------
    y_hat : np.ndarray, any shape
        Predictions.
    y : np.ndarray, same shape as y_hat
        Targets.

    Returns
    -------
    loss : float
    dy_hat : np.ndarray, same shape as y_hat

    Raises
    ------
    ValueError
        If the shapes differ (there is no broadcasting) or the arrays are empty.
    """
    y_hat, y = _prediction_and_target(y_hat, y, "mse_loss")
    diff = y_hat - y
    return float(np.mean(diff**2)), 2.0 * diff / diff.size


def l1_loss(y_hat: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """Mean absolute error, like ``F.l1_loss``.

    ``loss = mean(|y_hat - y|)`` over all entries. Where ``y_hat == y`` the gradient is 0.

    Parameters
    ----------
    y_hat : np.ndarray, any shape
        Predictions.
    y : np.ndarray, same shape as y_hat
        Targets.

    Returns
    -------
    loss : float
    dy_hat : np.ndarray, same shape as y_hat

    Raises
    ------
    ValueError
        If the shapes differ (there is no broadcasting) or the arrays are empty.
    """
    y_hat, y = _prediction_and_target(y_hat, y, "l1_loss")
    diff = y_hat - y
    return float(np.mean(np.abs(diff))), np.sign(diff) / diff.size


def bce_loss(p: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """Binary cross-entropy on probabilities, like ``F.binary_cross_entropy``.

    ``loss = mean(-(y * log(p) + (1 - y) * log(1 - p)))`` with each logarithm clamped at -100,
    so confident mistakes (``p`` exactly 0 or 1) give a large but finite loss. Prefer
    :func:`bce_with_logits_loss` when the model outputs scores: it is more accurate.

    Parameters
    ----------
    p : np.ndarray, any shape
        Predicted probabilities in [0, 1].
    y : np.ndarray, same shape as p
        Targets, usually 0 or 1 (soft targets in [0, 1] work too).

    Returns
    -------
    loss : float
    dp : np.ndarray, same shape as p
        ``(p - y) / max(p * (1 - p), 1e-12) / p.size``: PyTorch's formula, the exact derivative
        wherever the clamps are inactive.

    Raises
    ------
    ValueError
        If the shapes differ, the arrays are empty or ``p`` has values outside [0, 1].
    """
    p, y = _prediction_and_target(p, y, "bce_loss")
    if not np.all((p >= 0.0) & (p <= 1.0)):
        raise ValueError(
            f"bce_loss: p must hold probabilities in [0, 1], found values from {np.nanmin(p)} "
            f"to {np.nanmax(p)}; for raw scores (logits) use bce_with_logits_loss"
        )
    with np.errstate(divide="ignore"):  # log(0) = -inf is clamped on the next line
        log_p = np.maximum(np.log(p), _BCE_LOG_FLOOR)
        log_not_p = np.maximum(np.log1p(-p), _BCE_LOG_FLOOR)
    loss = -np.mean(y * log_p + (1.0 - y) * log_not_p)
    dp = (p - y) / np.maximum(p * (1.0 - p), _BCE_EPS) / p.size
    return float(loss), dp


def bce_with_logits_loss(z: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """Binary cross-entropy on logits, like ``F.binary_cross_entropy_with_logits``.

    Equal to ``bce_loss(sigmoid(z), y)`` without its clamping, computed stably as
    ``mean(max(z, 0) - y * z + log(1 + exp(-|z|)))``, which never overflows.

    Parameters
    ----------
    z : np.ndarray, any shape
        Logits (raw scores); ``sigmoid(z)`` is the predicted probability.
    y : np.ndarray, same shape as z
        Targets in [0, 1].

    Returns
    -------
    loss : float
    dz : np.ndarray, same shape as z
        ``(sigmoid(z) - y) / z.size``.

    Raises
    ------
    ValueError
        If the shapes differ (there is no broadcasting) or the arrays are empty.
    """
    z, y = _prediction_and_target(z, y, "bce_with_logits_loss")
    loss = np.mean(np.maximum(z, 0.0) - y * z + np.log1p(np.exp(-np.abs(z))))
    probabilities, _ = sigmoid_forward(z)
    return float(loss), (probabilities - y) / z.size


def cross_entropy_loss(scores: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """Softmax cross-entropy with integer labels, like ``F.cross_entropy``.

    ``loss = mean_i(-log softmax(scores_i)[y_i])``. The largest score of each row is subtracted
    before exponentiating (the log-sum-exp trick), which changes nothing mathematically but
    keeps ``exp`` from overflowing.

    Parameters
    ----------
    scores : np.ndarray, shape (N, C)
        Unnormalised class scores (logits).
    y : np.ndarray of int, shape (N,)
        Correct class of each example, in [0, C).

    Returns
    -------
    loss : float
    dscores : np.ndarray, shape (N, C)
        ``(softmax(scores) - one_hot(y)) / N``.

    Raises
    ------
    ValueError
        If shapes do not match, ``y`` is not an integer array or a label is out of range.
    """
    scores, y = _scores_and_labels(scores, y, "cross_entropy_loss")
    n = scores.shape[0]
    rows = np.arange(n)
    shifted = scores - scores.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    loss = -np.mean(log_probs[rows, y])
    dscores = np.exp(log_probs)
    dscores[rows, y] -= 1.0
    return float(loss), dscores / n


def hinge_loss(scores: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """Multiclass SVM (hinge) loss with margin 1.

    ``loss = mean_i(sum_{k != y_i} max(0, scores[i, k] - scores[i, y_i] + 1))``. Unlike
    ``F.multi_margin_loss`` the sum over classes is not divided by C. Where a margin is exactly
    0 its gradient is taken to be 0, as for ReLU.

    Parameters
    ----------
    scores : np.ndarray, shape (N, C)
        Class scores.
    y : np.ndarray of int, shape (N,)
        Correct class of each example, in [0, C).

    Returns
    -------
    loss : float
    dscores : np.ndarray, shape (N, C)

    Raises
    ------
    ValueError
        If shapes do not match, ``y`` is not an integer array or a label is out of range.
    """
    scores, y = _scores_and_labels(scores, y, "hinge_loss")
    n = scores.shape[0]
    rows = np.arange(n)
    margins = scores - scores[rows, y][:, None] + 1.0
    margins[rows, y] = 0.0
    active = (margins > 0.0).astype(np.float64)
    # Each violated margin pushes its own score up and the correct score down.
    active[rows, y] = -active.sum(axis=1)
    return float(np.maximum(margins, 0.0).sum() / n), active / n
