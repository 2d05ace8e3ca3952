"""i2dl.data.shapes.make_shapes: image form, seeding, and that each shape is the named one."""

from __future__ import annotations

import numpy as np
import pytest

from i2dl.data import SHAPE_CLASSES, make_shapes

pytestmark = pytest.mark.data

# Area divided by squared circumradius for each shape (the cross has arms of half-width
# one third of their length, scaled to fit the same circle).
AREA_OVER_RADIUS_SQUARED = {
    "circle": np.pi,
    "square": 2.0,
    "triangle": 3 * np.sqrt(3) / 4,
    "pentagon": 2.5 * np.sin(2 * np.pi / 5),
    "hexagon": 3 * np.sqrt(3) / 2,
    "cross": 2.0,
}


def test_form_dtype_range_and_balanced_labels():
    X, y = make_shapes(61, size=16, classes=SHAPE_CLASSES, seed=0)
    assert X.shape == (61, 3, 16, 16) and X.dtype == np.float64
    assert y.shape == (61,) and y.dtype == np.int64
    assert X.min() >= 0.0 and X.max() <= 1.0
    counts = np.bincount(y, minlength=len(SHAPE_CLASSES))
    assert counts.max() - counts.min() <= 1


def test_grey_images_and_noise():
    X, _ = make_shapes(10, size=12, channels=1, noise=0.2, seed=0)
    assert X.shape == (10, 1, 12, 12)
    assert X.min() >= 0.0 and X.max() <= 1.0
    clean, _ = make_shapes(10, size=12, channels=1, seed=0)
    assert not np.allclose(X, clean)


def test_seeded():
    X, y = make_shapes(8, seed=3)
    X_again, y_again = make_shapes(8, seed=3)
    np.testing.assert_array_equal(X, X_again)
    np.testing.assert_array_equal(y, y_again)
    assert not np.array_equal(make_shapes(8, seed=4)[0], X)


@pytest.mark.parametrize("name", SHAPE_CLASSES)
def test_drawn_area_matches_the_named_shape(name):
    X, _ = make_shapes(30, size=64, classes=(name,), channels=1, seed=0)
    images = X[:, 0]
    # Corners are always background and shape interiors fully covered, so these two values
    # recover each pixel's coverage.
    background = images[:, :1, :1]
    foreground = images.max(axis=(1, 2), keepdims=True)
    coverage = (images - background) / (foreground - background)
    area = coverage.sum(axis=(1, 2))

    centre = np.arange(64) + 0.5
    rows, cols = np.meshgrid(centre, centre, indexing="ij")
    cy = (coverage * rows).sum(axis=(1, 2)) / area
    cx = (coverage * cols).sum(axis=(1, 2)) / area
    distance = np.hypot(rows - cy[:, None, None], cols - cx[:, None, None])
    radius = np.array([d[c > 0.5].max() for d, c in zip(distance, coverage, strict=True)])

    ratio = np.median(area / radius**2)
    assert ratio == pytest.approx(AREA_OVER_RADIUS_SQUARED[name], rel=0.08)


def test_edges_are_smoothed():
    X, _ = make_shapes(5, size=32, classes=("circle",), channels=1, seed=0)
    images = X[:, 0]
    background = images[:, :1, :1]
    foreground = images.max(axis=(1, 2), keepdims=True)
    coverage = (images - background) / (foreground - background)
    partial = (coverage > 0.02) & (coverage < 0.98)
    assert np.all(partial.sum(axis=(1, 2)) > 10)


def test_smallest_size_fits_every_shape():
    X, y = make_shapes(200, size=10, classes=SHAPE_CLASSES, channels=1, seed=0)
    assert X.shape == (200, 1, 10, 10) and np.all((X >= 0) & (X <= 1))
    # every shape lies inside the image: the outermost pixels stay close to the background (the
    # darkest value of each image; only the antialiasing ramp at a polygon corner may reach them)
    border = np.concatenate([X[:, 0, 0], X[:, 0, -1], X[:, 0, :, 0], X[:, 0, :, -1]], axis=1)
    flat = X.reshape(200, -1)
    contrast = flat.max(axis=1) - flat.min(axis=1)
    assert np.all(border.max(axis=1) - flat.min(axis=1) < 0.5 * contrast)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"classes": ("circle", "star")}, "classes must be names from"),
        ({"channels": 2}, "channels must be 1"),
        ({"size": 4}, "size must be at least 10"),
        ({"size": 9}, "size must be at least 10"),
        ({"n": 0}, "n must be a positive"),
    ],
)
def test_invalid_arguments_are_explained(kwargs, message):
    with pytest.raises(ValueError, match=message):
        make_shapes(**{"n": 4, **kwargs})
