"""The fully connected (affine) layer and element-wise activations.

Every ``*_forward`` returns ``(out, cache)``; the matching ``*_backward(dout, cache)`` receives the
upstream gradient ``dout`` (the gradient of the loss with respect to ``out``, same shape as
``out``) and returns the gradient of the loss with respect to the forward inputs.

The semantics are those of PyTorch: ``affine_forward(x, w, b)`` equals
``F.linear(x.flatten(1), w.T, b)`` and the activations equal ``F.relu``, ``torch.sigmoid``,
``torch.tanh`` and ``F.leaky_relu``, including the gradient chosen at the kink of ReLU.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = [
    "affine_forward",
    "affine_backward",
    "relu_forward",
    "relu_backward",
    "sigmoid_forward",
    "sigmoid_backward",
    "tanh_forward",
    "tanh_backward",
    "leaky_relu_forward",
    "leaky_relu_backward",
]


def _check_dout(dout: np.ndarray, expected_shape: tuple[int, ...], layer: str) -> np.ndarray:
    """Return ``dout`` as float64 after checking it has the shape of the forward output."""
    dout = np.asarray(dout, dtype=np.float64)
    if dout.shape != expected_shape:
        raise ValueError(
            f"{layer}: dout must have the shape of the forward output {expected_shape}, "
            f"got {dout.shape}"
        )
    return dout


def affine_forward(
    x: np.ndarray, w: np.ndarray, b: np.ndarray
) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray]]:
    """Fully connected layer: ``out = x_flat @ w + b``.

    Each example is flattened into a row of ``D = d_1 * ... * d_k`` features, so images of shape
    ``(N, C, H, W)`` can be fed directly.

    Parameters
    ----------
    x : np.ndarray, shape (N, d_1, ..., d_k)
        Input batch of N examples, k >= 1.
    w : np.ndarray, shape (D, M)
        Weights; note the orientation: ``torch.nn.Linear`` stores the transpose ``(M, D)``.
    b : np.ndarray, shape (M,)
        Bias.

    Returns
    -------
    out : np.ndarray, shape (N, M)
    cache : tuple (x, w)
        What ``affine_backward`` needs.

    Raises
    ------
    ValueError
        If the shapes of ``x``, ``w`` and ``b`` do not fit together.
    """
    x = np.asarray(x, dtype=np.float64)
    w = np.asarray(w, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if x.ndim < 2:
        raise ValueError(
            f"affine_forward: x must have shape (N, d_1, ..., d_k) with a batch axis first, "
            f"got shape {x.shape}; for a single example pass x[None]"
        )
    if w.ndim != 2:
        raise ValueError(f"affine_forward: w must have shape (D, M), got shape {w.shape}")
    n, d = x.shape[0], math.prod(x.shape[1:])
    if w.shape[0] != d:
        raise ValueError(
            f"affine_forward: x of shape {x.shape} has D = {d} features per example, "
            f"but w of shape {w.shape} expects D = {w.shape[0]}"
        )
    if b.shape != (w.shape[1],):
        raise ValueError(
            f"affine_forward: b must have shape ({w.shape[1]},) to match w of shape {w.shape}, "
            f"got shape {b.shape}"
        )
    out = x.reshape(n, d) @ w + b
    return out, (x, w)


def affine_backward(
    dout: np.ndarray, cache: tuple[np.ndarray, np.ndarray]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Backward pass of :func:`affine_forward`.

    Parameters
    ----------
    dout : np.ndarray, shape (N, M)
        Upstream gradient.
    cache : tuple (x, w)
        From ``affine_forward``.

    Returns
    -------
    dx : np.ndarray, shape (N, d_1, ..., d_k)
        Same shape as ``x``.
    dw : np.ndarray, shape (D, M)
    db : np.ndarray, shape (M,)
    """
    x, w = cache
    n = x.shape[0]
    dout = _check_dout(dout, (n, w.shape[1]), "affine_backward")
    dx = (dout @ w.T).reshape(x.shape)
    dw = x.reshape(n, w.shape[0]).T @ dout
    db = dout.sum(axis=0)
    return dx, dw, db


def relu_forward(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rectified linear unit ``max(x, 0)``, element-wise.

    Parameters
    ----------
    x : np.ndarray, any shape

    Returns
    -------
    out : np.ndarray, same shape as x
    cache : np.ndarray
        The input ``x``.
    """
    x = np.asarray(x, dtype=np.float64)
    return np.maximum(x, 0.0), x


def relu_backward(dout: np.ndarray, cache: np.ndarray) -> np.ndarray:
    """Backward pass of :func:`relu_forward`.

    The gradient at exactly ``x = 0`` is taken to be 0, as in PyTorch.

    Parameters
    ----------
    dout : np.ndarray, same shape as x
    cache : np.ndarray
        From ``relu_forward``.

    Returns
    -------
    dx : np.ndarray, same shape as x
    """
    x = cache
    dout = _check_dout(dout, x.shape, "relu_backward")
    # np.where instead of multiplying by a mask: 0 * inf would turn into nan.
    return np.where(x > 0, dout, 0.0)


def sigmoid_forward(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Logistic sigmoid ``1 / (1 + exp(-x))``, element-wise and without overflow.

    Parameters
    ----------
    x : np.ndarray, any shape

    Returns
    -------
    out : np.ndarray, same shape as x
        Values in [0, 1].
    cache : np.ndarray
        The output ``out``; the derivative is ``out * (1 - out)``.
    """
    x = np.asarray(x, dtype=np.float64)
    # exp(-x) overflows for x < -709. With e = exp(-|x|) <= 1 both branches are safe:
    # 1 / (1 + e) for x >= 0, and e / (1 + e) (numerator and denominator times exp(x)) for x < 0.
    e = np.exp(-np.abs(x))
    out = np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))
    return out, out


def sigmoid_backward(dout: np.ndarray, cache: np.ndarray) -> np.ndarray:
    """Backward pass of :func:`sigmoid_forward`.

    Parameters
    ----------
    dout : np.ndarray, same shape as x
    cache : np.ndarray
        From ``sigmoid_forward``.

    Returns
    -------
    dx : np.ndarray, same shape as x
    """
    out = cache
    dout = _check_dout(dout, out.shape, "sigmoid_backward")
    return dout * out * (1.0 - out)


def tanh_forward(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Hyperbolic tangent, element-wise.

    Parameters
    ----------
    x : np.ndarray, any shape

    Returns
    -------
    out : np.ndarray, same shape as x
        Values in [-1, 1].
    cache : np.ndarray
        The output ``out``; the derivative is ``1 - out**2``.
    """
    out = np.tanh(np.asarray(x, dtype=np.float64))
    return out, out


def tanh_backward(dout: np.ndarray, cache: np.ndarray) -> np.ndarray:
    """Backward pass of :func:`tanh_forward`.

    Parameters
    ----------
    dout : np.ndarray, same shape as x
    cache : np.ndarray
        From ``tanh_forward``.

    Returns
    -------
    dx : np.ndarray, same shape as x
    """
    out = cache
    dout = _check_dout(dout, out.shape, "tanh_backward")
    return dout * (1.0 - out**2)


def leaky_relu_forward(
    x: np.ndarray, negative_slope: float = 0.01
) -> tuple[np.ndarray, tuple[np.ndarray, float]]:
    """Leaky ReLU: ``x`` where ``x > 0``, ``negative_slope * x`` elsewhere.

    Parameters
    ----------
    x : np.ndarray, any shape
    negative_slope : float
        Slope for non-positive inputs.

    Returns
    -------
    out : np.ndarray, same shape as x
    cache : tuple (x, negative_slope)
    """
    x = np.asarray(x, dtype=np.float64)
    return np.where(x > 0, x, negative_slope * x), (x, negative_slope)


def leaky_relu_backward(dout: np.ndarray, cache: tuple[np.ndarray, float]) -> np.ndarray:
    """Backward pass of :func:`leaky_relu_forward`.

    The gradient at exactly ``x = 0`` is ``negative_slope``, as in PyTorch.

    Parameters
    ----------
    dout : np.ndarray, same shape as x
    cache : tuple (x, negative_slope)
        From ``leaky_relu_forward``.

    Returns
    -------
    dx : np.ndarray, same shape as x
    """
    x, negative_slope = cache
    dout = _check_dout(dout, x.shape, "leaky_relu_backward")
    return np.where(x > 0, dout, negative_slope * dout)
