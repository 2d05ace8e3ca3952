"""i2dl.data.load_digits and train_val_test_split."""

from __future__ import annotations

import importlib.util
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from i2dl.data import load_digits, train_val_test_split

pytestmark = pytest.mark.data


@pytest.fixture(scope="module")
def digits():
    return load_digits()


def test_digits_images_are_scaled_to_unit_range(digits):
    X, y = digits
    assert X.shape == (1797, 1, 8, 8) and X.dtype == np.float64
    assert X.min() == 0.0 and X.max() == 1.0
    assert y.shape == (1797,) and y.dtype == np.int64
    np.testing.assert_array_equal(np.unique(y), np.arange(10))
    # Raw pixels are counts 0..16, so scaled values are multiples of 1/16.
    np.testing.assert_array_equal(X * 16, np.round(X * 16))


def test_flat_digits_are_the_same_pixels(digits):
    X_flat, y_flat = load_digits(flatten=True)
    assert X_flat.shape == (1797, 64)
    np.testing.assert_array_equal(X_flat, digits[0].reshape(1797, 64))
    np.testing.assert_array_equal(y_flat, digits[1])


def test_digits_are_scikit_learns_without_importing_it(digits):
    # The file is read straight from the installed package: same pixels and labels as
    # scikit-learn's own loader, and no second of `import sklearn` in every graded notebook.
    code = ("import sys; from i2dl.data import load_digits; load_digits(); "
            "print('sklearn' in sys.modules)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    assert proc.stdout.strip() == "False"
    from sklearn.datasets import load_digits as sklearn_load_digits

    bunch = sklearn_load_digits()
    np.testing.assert_array_equal(digits[0][:, 0] * 16, bunch.images)
    np.testing.assert_array_equal(digits[1], bunch.target)


def test_digits_fall_back_to_scikit_learns_loader(monkeypatch, digits):
    # Where the data file is not found (another layout of scikit-learn), its loader is used.
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    X, y = load_digits()
    assert X.dtype == np.float64 and y.dtype == np.int64
    np.testing.assert_array_equal(X, digits[0])
    np.testing.assert_array_equal(y, digits[1])


def test_digit_splits_are_disjoint_and_complete(digits):
    X, y = digits
    index = np.arange(len(X))
    parts = train_val_test_split(index, y, (0.7, 0.15, 0.15), seed=0)
    sizes = [len(rows) for rows, _ in parts]
    assert sizes == [1258, 269, 270]
    joined = np.concatenate([rows for rows, _ in parts])
    np.testing.assert_array_equal(np.sort(joined), index)
    for rows, labels in parts:
        np.testing.assert_array_equal(labels, y[rows])

    image_parts = train_val_test_split(X, y, (0.7, 0.15, 0.15), seed=0)
    for (images, _), (rows, _) in zip(image_parts, parts, strict=True):
        np.testing.assert_array_equal(images, X[rows])


@settings(max_examples=30, deadline=None)
@given(
    n=st.integers(1, 200),
    weights=st.tuples(*[st.integers(0, 10)] * 3).filter(lambda w: sum(w) > 0),
    seed=st.integers(0, 2**32 - 1),
)
def test_split_sizes_follow_fractions(n, weights, seed):
    fractions = np.array(weights) / sum(weights)
    parts = train_val_test_split(np.arange(n), np.arange(n), fractions, seed=seed)
    sizes = np.array([len(X) for X, _ in parts])
    assert sizes.sum() == n
    assert np.all(np.abs(sizes - fractions * n) <= 1)
    np.testing.assert_array_equal(np.sort(np.concatenate([X for X, _ in parts])), np.arange(n))


def test_split_is_seeded_and_leaves_inputs_alone():
    X, y = np.arange(100.0), np.arange(100) % 3
    X_before, y_before = X.copy(), y.copy()
    first = train_val_test_split(X, y, seed=1)
    again = train_val_test_split(X, y, seed=1)
    other = train_val_test_split(X, y, seed=2)
    for (a, _), (b, _) in zip(first, again, strict=True):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(first[0][0], other[0][0])
    first[0][0][:] = -1
    np.testing.assert_array_equal(X, X_before)
    np.testing.assert_array_equal(y, y_before)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((np.zeros(5), np.zeros(4)), "same number of samples, got 5 and 4"),
        ((np.zeros(5), np.zeros(5), (0.5, 0.5)), "three non-negative numbers"),
        ((np.zeros(5), np.zeros(5), (0.5, 0.6, -0.1)), "three non-negative numbers"),
        ((np.zeros(5), np.zeros(5), (0.5, 0.2, 0.2)), "summing to 1"),
    ],
)
def test_invalid_splits_are_explained(args, message):
    with pytest.raises(ValueError, match=message):
        train_val_test_split(*args)
