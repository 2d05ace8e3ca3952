"""Inverted dropout (training mode of ``torch.nn.functional.dropout``).

During training every entry is zeroed with probability ``p`` and the survivors are divided by
``1 - p``, so the expected output equals the input. At evaluation time dropout is the identity:
simply do not call these functions.
"""

from __future__ import annotations

import numpy as np

__all__ = ["dropout_forward", "dropout_backward"]


def dropout_forward(
    x: np.ndarray, p: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Inverted dropout forward pass.

    Parameters
    ----------
    x : np.ndarray, any shape
        Input.
    p : float
        Probability of dropping an entry, in ``[0, 1]``. ``p = 0`` returns ``x`` unchanged and
        ``p = 1`` returns zeros.
    rng : np.random.Generator
        Source of the random mask, e.g. ``np.random.default_rng(0)``; the same seed gives the
        same mask.

    Returns
    -------
    out : np.ndarray, same shape as x
    cache : np.ndarray, same shape as x
        The mask: ``0`` for dropped entries and ``1 / (1 - p)`` for kept ones.

    Raises
    ------
    ValueError
        If ``p`` is outside ``[0, 1]``.
    TypeError
        If ``rng`` is not a ``numpy.random.Generator``.
    """
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout: p is the drop probability and must lie in [0, 1], got {p}")
    if not isinstance(rng, np.random.Generator):
        raise TypeError(
            f"dropout: rng must be a numpy.random.Generator, got {type(rng).__name__}; "
            "create one with np.random.default_rng(seed)"
        )
    # Uniform draws lie in [0, 1): p = 0 keeps everything and p = 1 drops everything, and the
    # scale of 0 for p = 1 avoids dividing by zero.
    keep = rng.random(x.shape) >= p
    mask = keep * (1.0 / (1.0 - p) if p < 1.0 else 0.0)
    return x * mask, mask


def dropout_backward(dout: np.ndarray, cache: np.ndarray) -> np.ndarray:
    """Inverted dropout backward pass: the gradient passes through the same mask.

    Parameters
    ----------
    dout : np.ndarray, same shape as the forward input
        Upstream gradient.
    cache : np.ndarray
        The mask from ``dropout_forward``.

    Returns
    -------
    dx : np.ndarray, same shape as dout
    """
    return dout * cache
