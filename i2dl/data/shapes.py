"""A procedurally drawn image set: one filled shape per image, drawn with numpy only.

Each shape is described by a signed distance ``d`` (in pixels) from the pixel centre to the
shape's outline: negative inside, positive outside. A pixel's coverage is
``clip(0.5 - d, 0, 1)``, which fills the inside, leaves the outside empty and gives pixels on
the outline a fractional value; that cheap ramp is what smooths (anti-aliases) the edges.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from i2dl.data._seeding import Seed, as_generator

SHAPE_CLASSES = ("circle", "square", "triangle", "pentagon", "hexagon", "cross")
_POLYGON_SIDES = {"triangle": 3, "square": 4, "pentagon": 5, "hexagon": 6}


def _polygon_distance(u: np.ndarray, v: np.ndarray, radius: np.ndarray, sides: int) -> np.ndarray:
    # A convex polygon is the intersection of half-planes, so the largest signed distance to
    # its edge lines is exact inside and along the edges, and only slightly too small just
    # outside a corner, which the one-pixel ramp cannot show.
    apothem = radius * np.cos(np.pi / sides)
    normals = np.pi / sides * (2 * np.arange(sides) + 1)
    distances = [np.cos(a) * u + np.sin(a) * v - apothem for a in normals]
    return np.max(distances, axis=0)


def _rectangle_distance(u: np.ndarray, v: np.ndarray, half_u, half_v) -> np.ndarray:
    return np.maximum(np.abs(u) - half_u, np.abs(v) - half_v)


def _signed_distance(name: str, u: np.ndarray, v: np.ndarray, radius: np.ndarray) -> np.ndarray:
    """Signed distance of points ``(u, v)`` in each shape's own rotated frame, shape (N, H, W)."""
    if name == "circle":
        return np.hypot(u, v) - radius
    if name == "cross":
        # Arms of length L and half-width L / 3 put the outer corners at distance
        # L * sqrt(10) / 3, so this L keeps the cross inside the circle of the given radius.
        length = radius * 3.0 / np.sqrt(10.0)
        width = length / 3.0
        return np.minimum(
            _rectangle_distance(u, v, length, width), _rectangle_distance(u, v, width, length)
        )
    return _polygon_distance(u, v, radius, _POLYGON_SIDES[name])


def make_shapes(
    n: int = 1000,
    *,
    size: int = 32,
    classes: Sequence[str] = ("circle", "square", "triangle"),
    channels: int = 3,
    noise: float = 0.0,
    seed: Seed = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Images of one filled shape each, with random position, size, rotation and colours.

    Parameters
    ----------
    n : int
        Number of images; the classes are balanced.
    size : int
        Height and width of every image in pixels (at least 10: the largest shape, 0.8 * size
        across, plus a pixel of edge ramp on each side must fit).
    classes : sequence of str
        Shape names, each one of ``SHAPE_CLASSES``; label ``k`` means ``classes[k]``.
    channels : int
        1 for grey images, 3 for colour images.
    noise : float
        Standard deviation of Gaussian pixel noise added before clipping to [0, 1].
    seed : int, numpy.random.Generator or None
        Source of randomness.

    Returns
    -------
    X : ndarray of shape (n, channels, size, size), float64 in [0, 1]
    y : ndarray of shape (n,), int64 in [0, len(classes))
    """
    unknown = [name for name in classes if name not in SHAPE_CLASSES]
    if unknown or len(classes) == 0:
        raise ValueError(f"classes must be names from {SHAPE_CLASSES}, got {tuple(classes)}")
    if channels not in (1, 3):
        raise ValueError(f"channels must be 1 (grey) or 3 (colour), got {channels}")
    if size < 10:
        raise ValueError(f"size must be at least 10 pixels (a shape can be 0.8 * size across, "
                         f"plus an edge pixel on each side), got {size}")
    if n < 1:
        raise ValueError(f"n must be a positive number of images, got {n}")

    rng = as_generator(seed)
    y = rng.permutation(np.arange(n) % len(classes)).astype(np.int64)
    radius = rng.uniform(0.2 * size, 0.4 * size, size=n)
    # Keep the whole shape, plus one pixel of ramp, inside the image.
    low, high = radius + 1.0, size - radius - 1.0
    cx = rng.uniform(low, high)
    cy = rng.uniform(low, high)
    angle = rng.uniform(0.0, 2.0 * np.pi, size=n)
    background = rng.uniform(0.0, 0.4, size=(n, channels))
    foreground = rng.uniform(0.6, 1.0, size=(n, channels))

    pixel = np.arange(size) + 0.5
    dx = pixel[None, None, :] - cx[:, None, None]
    dy = pixel[None, :, None] - cy[:, None, None]
    cos, sin = np.cos(angle)[:, None, None], np.sin(angle)[:, None, None]
    u = cos * dx + sin * dy
    v = -sin * dx + cos * dy

    coverage = np.empty((n, size, size))
    for label, name in enumerate(classes):
        rows = y == label
        coverage[rows] = np.clip(
            0.5 - _signed_distance(name, u[rows], v[rows], radius[rows, None, None]), 0.0, 1.0
        )

    alpha = coverage[:, None, :, :]
    X = background[:, :, None, None] * (1.0 - alpha) + foreground[:, :, None, None] * alpha
    if noise > 0:
        X = np.clip(X + noise * rng.standard_normal(X.shape), 0.0, 1.0)
    return X, y
