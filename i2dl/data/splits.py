"""Seeded train / validation / test splits."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from i2dl.data._seeding import Seed, as_generator


def train_val_test_split(
    X: np.ndarray,
    y: np.ndarray,
    fractions: Sequence[float] = (0.6, 0.2, 0.2),
    seed: Seed = None,
) -> tuple[tuple[np.ndarray, np.ndarray], ...]:
    """Shuffle the samples once and cut them into three disjoint parts.

    Parameters
    ----------
    X : ndarray of shape (N, ...)
        Inputs, one sample per row.
    y : ndarray of shape (N, ...)
        Targets, one per sample.
    fractions : sequence of three floats
        Share of the samples for train, validation and test; non-negative, summing to 1.
        Part sizes are ``round(N * cumulative share)`` differences, so they add up to ``N``.
    seed : int, numpy.random.Generator or None
        Source of randomness for the shuffle.

    Returns
    -------
    ((X_train, y_train), (X_val, y_val), (X_test, y_test))
        New arrays (copies, never views of the inputs) with the rows of each part.
    """
    X, y = np.asarray(X), np.asarray(y)
    if len(X) != len(y):
        raise ValueError(f"X and y must have the same number of samples, got {len(X)} and {len(y)}")
    shares = np.asarray(fractions, dtype=np.float64)
    if shares.shape != (3,) or np.any(shares < 0) or not np.isclose(shares.sum(), 1.0):
        raise ValueError(
            f"fractions must be three non-negative numbers summing to 1 (train, val, test), "
            f"got {tuple(fractions)}"
        )
    order = as_generator(seed).permutation(len(X))
    cut_train, cut_val = np.round(np.cumsum(shares[:2]) * len(X)).astype(int)
    parts = np.split(order, [cut_train, cut_val])
    return tuple((X[rows], y[rows]) for rows in parts)
