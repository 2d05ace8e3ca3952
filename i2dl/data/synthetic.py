"""Small two-dimensional classification sets for plotting decision boundaries.

Every function returns ``(X, y)`` with ``X`` of shape ``(n, 2)`` (``(n, n_features)`` for
blobs) in float64 and integer labels ``y`` of shape ``(n,)`` in int64. Classes are balanced:
sample ``i`` belongs to class ``i % n_classes`` before the rows are shuffled.

XOR, spirals and moons are built so that no straight line separates the classes; blobs are
the opposite case, a set a linear classifier handles well.
"""

from __future__ import annotations

import numpy as np

from i2dl.data._seeding import Seed, as_generator


def _balanced_labels(n: int, n_classes: int, rng: np.random.Generator) -> np.ndarray:
    if n < 1:
        raise ValueError(f"n must be a positive number of samples, got {n}")
    return rng.permutation(np.arange(n) % n_classes).astype(np.int64)


def make_xor(
    n: int = 200, *, noise: float = 0.25, seed: Seed = None
) -> tuple[np.ndarray, np.ndarray]:
    """Four Gaussian clusters at ``(+-1, +-1)``; the label is 1 where the signs differ.

    Parameters
    ----------
    n : int
        Number of samples.
    noise : float
        Standard deviation of each cluster.
    seed : int, numpy.random.Generator or None
        Source of randomness.

    Returns
    -------
    X : ndarray of shape (n, 2), float64
    y : ndarray of shape (n,), int64 in {0, 1}
    """
    rng = as_generator(seed)
    y = _balanced_labels(n, 2, rng)
    sign_a = rng.choice([-1.0, 1.0], size=n)
    # Label 1 means "the two coordinates have opposite signs", the XOR of the two sign bits.
    sign_b = np.where(y == 1, -sign_a, sign_a)
    centers = np.stack([sign_a, sign_b], axis=1)
    return centers + noise * rng.standard_normal((n, 2)), y


def make_spirals(
    n: int = 300,
    *,
    n_classes: int = 2,
    turns: float = 1.0,
    noise: float = 0.05,
    seed: Seed = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Interleaved spiral arms, one per class, winding out from the origin.

    A point at fraction ``t`` along arm ``k`` sits at radius ``t`` and angle
    ``2 pi (turns * t + k / n_classes)``.

    Parameters
    ----------
    n : int
        Number of samples (split evenly over the arms).
    n_classes : int
        Number of arms.
    turns : float
        How many full turns each arm makes.
    noise : float
        Standard deviation of Gaussian noise added to both coordinates.
    seed : int, numpy.random.Generator or None
        Source of randomness.

    Returns
    -------
    X : ndarray of shape (n, 2), float64
    y : ndarray of shape (n,), int64 in [0, n_classes)
    """
    if n_classes < 2:
        raise ValueError(f"n_classes must be at least 2, got {n_classes}")
    rng = as_generator(seed)
    y = _balanced_labels(n, n_classes, rng)
    t = rng.uniform(0.0, 1.0, size=n)
    angle = 2.0 * np.pi * (turns * t + y / n_classes)
    X = t[:, None] * np.stack([np.cos(angle), np.sin(angle)], axis=1)
    return X + noise * rng.standard_normal((n, 2)), y


def make_moons(
    n: int = 200, *, noise: float = 0.1, seed: Seed = None
) -> tuple[np.ndarray, np.ndarray]:
    """Two interlocking half circles of radius 1.

    Class 0 is the upper half of the circle around ``(0, 0)``, class 1 the lower half of the
    circle around ``(1, 0.5)``, so each moon reaches into the other's hollow.

    Parameters
    ----------
    n : int
        Number of samples.
    noise : float
        Standard deviation of Gaussian noise added to both coordinates.
    seed : int, numpy.random.Generator or None
        Source of randomness.

    Returns
    -------
    X : ndarray of shape (n, 2), float64
    y : ndarray of shape (n,), int64 in {0, 1}
    """
    rng = as_generator(seed)
    y = _balanced_labels(n, 2, rng)
    theta = rng.uniform(0.0, np.pi, size=n)
    upper = np.stack([np.cos(theta), np.sin(theta)], axis=1)
    lower = np.stack([1.0 - np.cos(theta), 0.5 - np.sin(theta)], axis=1)
    X = np.where(y[:, None] == 0, upper, lower)
    return X + noise * rng.standard_normal((n, 2)), y


def make_blobs(
    n: int = 300,
    *,
    centers: int | np.ndarray = 3,
    n_features: int = 2,
    cluster_std: float = 0.5,
    center_box: tuple[float, float] = (-5.0, 5.0),
    seed: Seed = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Isotropic Gaussian clusters, one per class.

    Parameters
    ----------
    n : int
        Number of samples.
    centers : int or array_like of shape (n_classes, n_features)
        Either the number of clusters, whose centres are then drawn uniformly from
        ``center_box`` in every feature, or the centres themselves.
    n_features : int
        Dimension of the points; ignored when ``centers`` is an array.
    cluster_std : float
        Standard deviation of every cluster.
    center_box : (float, float)
        Range for randomly drawn centres.
    seed : int, numpy.random.Generator or None
        Source of randomness.

    Returns
    -------
    X : ndarray of shape (n, n_features), float64
    y : ndarray of shape (n,), int64 in [0, n_classes)
    """
    rng = as_generator(seed)
    if isinstance(centers, (int, np.integer)):
        if centers < 1:
            raise ValueError(f"centers must be at least 1, got {centers}")
        means = rng.uniform(center_box[0], center_box[1], size=(int(centers), n_features))
    else:
        means = np.asarray(centers, dtype=np.float64)
        if means.ndim != 2:
            raise ValueError(
                f"centers must be an int or an array of shape (n_classes, n_features), "
                f"got an array of shape {means.shape}"
            )
    y = _balanced_labels(n, len(means), rng)
    return means[y] + cluster_std * rng.standard_normal((n, means.shape[1])), y
