"""i2dl.data.synthetic: 2-D toy sets have the right form, are seeded, and (in)separable."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier

from i2dl.data import make_blobs, make_moons, make_spirals, make_xor

pytestmark = pytest.mark.data

MAKERS = [make_xor, make_spirals, make_moons, make_blobs]
N_CLASSES = {make_xor: 2, make_spirals: 2, make_moons: 2, make_blobs: 3}


@pytest.mark.parametrize("make", MAKERS, ids=lambda f: f.__name__)
def test_shapes_types_and_balanced_labels(make):
    X, y = make(301, seed=0)
    assert X.shape == (301, 2) and X.dtype == np.float64
    assert y.shape == (301,) and y.dtype == np.int64
    counts = np.bincount(y)
    assert len(counts) == N_CLASSES[make]
    assert counts.max() - counts.min() <= 1
    assert np.all(np.isfinite(X))


@pytest.mark.parametrize("make", MAKERS, ids=lambda f: f.__name__)
def test_same_seed_same_data_other_seed_other_data(make):
    X, y = make(50, seed=1)
    X_again, y_again = make(50, seed=1)
    np.testing.assert_array_equal(X, X_again)
    np.testing.assert_array_equal(y, y_again)
    assert not np.array_equal(make(50, seed=2)[0], X)


@pytest.mark.parametrize("make", MAKERS, ids=lambda f: f.__name__)
def test_a_shared_generator_continues_its_stream(make):
    rng = np.random.default_rng(0)
    first, second = make(20, seed=rng)[0], make(20, seed=rng)[0]
    assert not np.array_equal(first, second)
    np.testing.assert_array_equal(make(20, seed=np.random.default_rng(0))[0], first)


@pytest.mark.parametrize(
    ("make", "linear_at_most"),
    [(make_xor, 0.65), (make_spirals, 0.7), (make_moons, 0.93)],
    ids=lambda v: getattr(v, "__name__", str(v)),
)
@pytest.mark.parametrize("seed", [0, 1])
def test_nonlinear_sets_defeat_a_linear_model_but_not_nearest_neighbours(
    make, linear_at_most, seed
):
    X, y = make(400, seed=seed)
    X_test, y_test = make(400, seed=seed + 100)
    linear = LogisticRegression().fit(X, y).score(X, y)
    neighbours = KNeighborsClassifier(5).fit(X, y).score(X_test, y_test)
    assert linear <= linear_at_most
    assert neighbours >= 0.95


@pytest.mark.parametrize("seed", range(4))
def test_blobs_are_linearly_separable(seed):
    X, y = make_blobs(300, centers=3, seed=seed)
    assert LogisticRegression().fit(X, y).score(X, y) >= 0.95


def test_blobs_with_given_centers_and_features():
    centers = np.array([[0.0, 0.0, 0.0, 0.0], [10.0, 0.0, 0.0, 0.0]])
    X, y = make_blobs(400, centers=centers, cluster_std=0.1, seed=0)
    assert X.shape == (400, 4)
    for k in range(2):
        np.testing.assert_allclose(X[y == k].mean(axis=0), centers[k], atol=0.05)
        np.testing.assert_allclose(X[y == k].std(axis=0), 0.1, rtol=0.2)


def test_blobs_random_centers_lie_in_the_box():
    X, y = make_blobs(600, centers=5, n_features=3, cluster_std=0.01, center_box=(2, 3), seed=0)
    assert X.shape == (600, 3) and y.max() == 4
    assert X.min() > 1.9 and X.max() < 3.1


def test_xor_labels_follow_the_sign_rule_without_noise():
    X, y = make_xor(100, noise=0.0, seed=0)
    np.testing.assert_array_equal(np.abs(X), 1.0)
    np.testing.assert_array_equal(y, (np.sign(X[:, 0]) != np.sign(X[:, 1])).astype(int))


def test_moons_without_noise_lie_on_their_circles():
    X, y = make_moons(200, noise=0.0, seed=0)
    np.testing.assert_allclose(np.hypot(*X[y == 0].T), 1.0)
    np.testing.assert_allclose(np.hypot(X[y == 1, 0] - 1.0, X[y == 1, 1] - 0.5), 1.0)
    assert np.all(X[y == 0, 1] >= 0) and np.all(X[y == 1, 1] <= 0.5)


def test_spirals_have_one_arm_per_class_inside_the_unit_disc():
    X, y = make_spirals(300, n_classes=3, noise=0.0, seed=0)
    assert set(np.unique(y)) == {0, 1, 2}
    assert np.hypot(*X.T).max() <= 1.0


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: make_xor(0), "n must be a positive"),
        (lambda: make_spirals(10, n_classes=1), "n_classes must be at least 2"),
        (lambda: make_blobs(10, centers=0), "centers must be at least 1"),
        (lambda: make_blobs(10, centers=np.zeros(3)), r"got an array of shape \(3,\)"),
        (lambda: make_moons(10, seed="zero"), "seed must be an int"),
    ],
)
def test_invalid_arguments_are_explained(call, message):
    with pytest.raises((ValueError, TypeError), match=message):
        call()
