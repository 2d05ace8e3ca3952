"""i2dl.data.DataLoader: coverage of every epoch, batch shapes, reproducible shuffling."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from i2dl.data import DataLoader, RandomHorizontalFlip

pytestmark = pytest.mark.data


def arrays(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Samples that carry their own index, so batches can be traced back."""
    X = np.arange(n, dtype=np.float64)[:, None, None].repeat(3, axis=1).repeat(2, axis=2)
    return X, np.arange(n) * 10


def epoch_indices(loader: DataLoader) -> list[np.ndarray]:
    return [y // 10 for _, y in loader]


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(1, 60),
    batch_size=st.integers(1, 25),
    shuffle=st.booleans(),
    drop_last=st.booleans(),
    seed=st.integers(0, 2**32 - 1),
)
def test_every_epoch_covers_each_sample_once(n, batch_size, shuffle, drop_last, seed):
    X, y = arrays(n)
    loader = DataLoader((X, y), batch_size, shuffle=shuffle, drop_last=drop_last, seed=seed)
    expected_batches = n // batch_size if drop_last else -(-n // batch_size)
    assert len(loader) == expected_batches
    for _ in range(2):
        batches = list(loader)
        assert len(batches) == expected_batches
        for i, (xb, yb) in enumerate(batches):
            last = i == len(batches) - 1
            size = batch_size if drop_last or not last else n - batch_size * (len(batches) - 1)
            assert xb.shape == (size, 3, 2) and yb.shape == (size,)
            np.testing.assert_array_equal(xb[:, 0, 0] * 10, yb)
        seen = np.concatenate([yb // 10 for _, yb in batches]) if batches else np.array([])
        assert len(np.unique(seen)) == len(seen)
        if drop_last:
            assert len(seen) == expected_batches * batch_size
        else:
            np.testing.assert_array_equal(np.sort(seen), np.arange(n))


def test_without_shuffle_order_is_the_data_order():
    loader = DataLoader(arrays(10), batch_size=4)
    for _ in range(2):
        np.testing.assert_array_equal(np.concatenate(epoch_indices(loader)), np.arange(10))


def test_shuffle_is_reproducible_and_new_every_epoch():
    first = DataLoader(arrays(50), batch_size=8, shuffle=True, seed=3)
    second = DataLoader(arrays(50), batch_size=8, shuffle=True, seed=3)
    orders = [np.concatenate(epoch_indices(first)) for _ in range(3)]
    for order in orders:
        np.testing.assert_array_equal(np.concatenate(epoch_indices(second)), order)
    assert not np.array_equal(orders[0], orders[1])
    assert not np.array_equal(orders[1], orders[2])
    assert not np.array_equal(orders[0], np.arange(50))

    other_seed = DataLoader(arrays(50), batch_size=8, shuffle=True, seed=4)
    assert not np.array_equal(np.concatenate(epoch_indices(other_seed)), orders[0])


def test_set_epoch_replays_an_epoch():
    loader = DataLoader(arrays(30), batch_size=7, shuffle=True, seed=0)
    orders = [np.concatenate(epoch_indices(loader)) for _ in range(3)]
    assert loader.epoch == 3
    loader.set_epoch(1)
    np.testing.assert_array_equal(np.concatenate(epoch_indices(loader)), orders[1])


def test_seed_none_is_random_but_recorded():
    loader = DataLoader(arrays(40), batch_size=40, shuffle=True)
    replay = DataLoader(arrays(40), batch_size=40, shuffle=True, seed=loader.seed)
    np.testing.assert_array_equal(epoch_indices(loader)[0], epoch_indices(replay)[0])
    assert DataLoader(arrays(40), shuffle=True).seed != loader.seed


def test_epoch_starts_when_iteration_starts():
    loader = DataLoader(arrays(12), batch_size=5, shuffle=True, seed=1)
    iterator = iter(loader)
    assert loader.epoch == 1
    assert len(list(iterator)) == 3


class ListDataset:
    """A data set in the PyTorch style: one (x, y) tuple per index."""

    def __init__(self, n: int) -> None:
        self.X, self.y = arrays(n)

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, i: int):
        return self.X[i], self.y[i]


def test_dataset_objects_are_stacked_into_batches():
    loader = DataLoader(ListDataset(11), batch_size=4, shuffle=True, seed=2)
    from_arrays = DataLoader(arrays(11), batch_size=4, shuffle=True, seed=2)
    for (xb, yb), (xa, ya) in zip(loader, from_arrays, strict=True):
        np.testing.assert_array_equal(xb, xa)
        np.testing.assert_array_equal(yb, ya)
    assert [xb.shape for xb, _ in loader] == [(4, 3, 2), (4, 3, 2), (3, 3, 2)]


def test_transform_is_seeded_and_applied_to_inputs_only():
    X = np.random.default_rng(0).random((16, 1, 4, 4))
    y = np.arange(16)

    def run(seed):
        loader = DataLoader((X, y), 16, seed=seed, transform=RandomHorizontalFlip(0.5))
        return [next(iter(loader)) for _ in range(2)]

    (xa, ya), (xb, _) = run(seed=5)
    np.testing.assert_array_equal(ya, y)
    flipped = np.all(xa == X[..., ::-1], axis=(1, 2, 3))
    kept = np.all(xa == X, axis=(1, 2, 3))
    assert np.all(flipped | kept) and flipped.any() and kept.any()
    assert not np.array_equal(xa, xb)
    (xc, _), (xd, _) = run(seed=5)
    np.testing.assert_array_equal(xc, xa)
    np.testing.assert_array_equal(xd, xb)


def test_batches_are_copies_so_the_data_is_never_changed():
    X, y = arrays(9)
    X_before, y_before = X.copy(), y.copy()
    for xb, yb in DataLoader((X, y), batch_size=4, shuffle=True, seed=0):
        xb += 1.0
        yb *= 0
    np.testing.assert_array_equal(X, X_before)
    np.testing.assert_array_equal(y, y_before)


@pytest.mark.parametrize(
    ("data", "kwargs", "error", "message"),
    [
        ((np.zeros((5, 2)), np.zeros(4)), {}, ValueError, r"lengths \[5, 4\]"),
        ((np.zeros((5, 2)), np.zeros(5)), {"batch_size": 0}, ValueError, "batch_size"),
        (42, {}, TypeError, "tuple of arrays"),
    ],
)
def test_invalid_arguments_are_explained(data, kwargs, error, message):
    with pytest.raises(error, match=message):
        DataLoader(data, **kwargs)


def test_dataset_items_must_be_tuples():
    with pytest.raises(TypeError, match="must return a tuple"):
        list(DataLoader([np.zeros(2), np.zeros(2)], batch_size=2))
