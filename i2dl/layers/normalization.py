"""Batch normalisation in training mode (like ``torch.nn.functional.batch_norm(training=True)``).

Each feature is normalised with the mean and the biased variance of the current batch, then
scaled by ``gamma`` and shifted by ``beta``. For images ``(N, C, H, W)`` the statistics are taken
per channel over ``N``, ``H`` and ``W`` ("spatial batch norm", ``nn.BatchNorm2d``).

Running averages for evaluation mode are the job of the module that calls these functions: the
cache exposes the batch ``mean`` and ``var`` for that.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

__all__ = ["BatchNormCache", "batchnorm_forward", "batchnorm_backward"]


class BatchNormCache(NamedTuple):
    """What ``batchnorm_backward`` needs; ``mean`` and ``var`` have shape ``(D,)`` or ``(C,)``."""

    x_hat: np.ndarray
    inv_std: np.ndarray
    gamma: np.ndarray
    mean: np.ndarray
    var: np.ndarray


def _feature_view(shape: tuple[int, ...]) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Axes to reduce over and the broadcast shape of a per-feature parameter."""
    if len(shape) == 2:
        return (0,), (1, shape[1])
    return (0, 2, 3), (1, shape[1], 1, 1)


def batchnorm_forward(
    x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, eps: float = 1e-5
) -> tuple[np.ndarray, BatchNormCache]:
    """Batch normalisation forward pass with batch statistics.

    ``out = gamma * (x - mean) / sqrt(var + eps) + beta`` where ``mean`` and the biased ``var``
    are computed over the batch (and, for 4-D input, over the spatial axes too).

    Parameters
    ----------
    x : np.ndarray, shape (N, D) or (N, C, H, W)
        Input batch.
    gamma : np.ndarray, shape (D,) or (C,)
        Per-feature scale.
    beta : np.ndarray, shape (D,) or (C,)
        Per-feature shift.
    eps : float
        Added to the variance so that constant features do not divide by zero.

    Returns
    -------
    out : np.ndarray, same shape as x
    cache : BatchNormCache
        What ``batchnorm_backward`` needs, plus the batch ``mean`` and ``var``.

    Raises
    ------
    ValueError
        If ``x`` is not 2-D or 4-D, ``gamma``/``beta`` do not have one entry per feature, or
        there is only one value per feature (the variance of a single value says nothing).
    """
    if x.ndim not in (2, 4):
        raise ValueError(f"batchnorm: x must have shape (N, D) or (N, C, H, W), got {x.shape}")
    features = x.shape[1]
    if gamma.shape != (features,) or beta.shape != (features,):
        raise ValueError(
            f"batchnorm: gamma and beta must have shape ({features},) for x of shape {x.shape}, "
            f"got gamma {gamma.shape} and beta {beta.shape}"
        )
    if x.size // features < 2:
        raise ValueError(
            f"batchnorm: x of shape {x.shape} has a single value per feature; training-mode "
            "batch statistics need at least two, so use a larger batch"
        )
    axes, param_shape = _feature_view(x.shape)
    mean = x.mean(axis=axes, keepdims=True)
    var = x.var(axis=axes, keepdims=True)
    inv_std = 1.0 / np.sqrt(var + eps)
    x_hat = (x - mean) * inv_std
    out = gamma.reshape(param_shape) * x_hat + beta.reshape(param_shape)
    return out, BatchNormCache(x_hat, inv_std, gamma, mean.ravel(), var.ravel())


def batchnorm_backward(
    dout: np.ndarray, cache: BatchNormCache
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Batch normalisation backward pass.

    Every ``x_hat`` depends on the whole batch through ``mean`` and ``var``. Summing those paths
    gives, per feature with ``m`` values and ``g = dout * gamma``:
    ``dx = inv_std / m * (m * g - sum(g) - x_hat * sum(g * x_hat))``.

    Parameters
    ----------
    dout : np.ndarray, shape (N, D) or (N, C, H, W)
        Upstream gradient.
    cache : BatchNormCache
        From ``batchnorm_forward``.

    Returns
    -------
    dx : np.ndarray, same shape as dout
    dgamma : np.ndarray, shape (D,) or (C,)
    dbeta : np.ndarray, shape (D,) or (C,)
    """
    x_hat, inv_std, gamma, _, _ = cache
    axes, param_shape = _feature_view(dout.shape)
    m = dout.size // dout.shape[1]
    dbeta = dout.sum(axis=axes)
    dgamma = (dout * x_hat).sum(axis=axes)
    g = dout * gamma.reshape(param_shape)
    g_sum = g.sum(axis=axes, keepdims=True)
    g_x_hat_sum = (g * x_hat).sum(axis=axes, keepdims=True)
    dx = inv_std / m * (m * g - g_sum - x_hat * g_x_hat_sum)
    return dx, dgamma, dbeta
