"""i2dl.data.sequences: the sequence tasks have the documented layout and targets."""

from __future__ import annotations

import numpy as np
import pytest

from i2dl.data import make_adding_problem, make_copy_task, make_parity, make_sine_sequences

pytestmark = pytest.mark.data

TASKS = [make_sine_sequences, make_parity, make_copy_task, make_adding_problem]


@pytest.mark.parametrize("make", TASKS, ids=lambda f: f.__name__)
def test_seeded(make):
    X, y = make(20, seed=0)
    X_again, y_again = make(20, seed=0)
    np.testing.assert_array_equal(X, X_again)
    np.testing.assert_array_equal(y, y_again)
    assert not np.array_equal(make(20, seed=1)[0], X)


def test_sine_targets_are_the_next_step():
    X, y = make_sine_sequences(30, seq_len=40, seed=0)
    assert X.shape == y.shape == (30, 40, 1)
    assert X.dtype == y.dtype == np.float64
    np.testing.assert_array_equal(y[:, :-1], X[:, 1:])
    assert np.abs(X).max() <= 1.5 and np.abs(X).max(axis=1).min() >= 0.4


def test_sine_noise_touches_inputs_only():
    clean_X, clean_y = make_sine_sequences(10, seq_len=20, seed=0)
    noisy_X, noisy_y = make_sine_sequences(10, seq_len=20, noise=0.1, seed=0)
    np.testing.assert_array_equal(noisy_y, clean_y)
    assert 0.05 < np.std(noisy_X - clean_X) < 0.2


@pytest.mark.parametrize("running", [False, True])
def test_parity_labels_count_ones(running):
    X, y = make_parity(200, seq_len=7, running=running, seed=0)
    assert X.shape == (200, 7, 1) and X.dtype == np.float64
    assert set(np.unique(X)) == {0.0, 1.0}
    ones = np.cumsum(X[:, :, 0], axis=1).astype(int) % 2
    expected = ones if running else ones[:, -1]
    assert y.dtype == np.int64
    np.testing.assert_array_equal(y, expected)
    assert 0.3 < y.mean() < 0.7


def test_copy_task_layout():
    T, K, delay = 4, 6, 3
    X, y = make_copy_task(50, seq_len=T, n_symbols=K, delay=delay, seed=0)
    L = 2 * T + delay
    assert X.shape == (50, L, K + 2) and X.dtype == np.float64
    assert y.shape == (50, L) and y.dtype == np.int64
    np.testing.assert_array_equal(X.sum(axis=2), 1.0)
    tokens = X.argmax(axis=2)
    symbols = tokens[:, :T]
    assert symbols.min() >= 1 and symbols.max() <= K
    np.testing.assert_array_equal(tokens[:, T : T + delay - 1], 0)
    np.testing.assert_array_equal(tokens[:, T + delay - 1], K + 1)
    np.testing.assert_array_equal(tokens[:, T + delay :], 0)
    np.testing.assert_array_equal(y[:, : T + delay], 0)
    np.testing.assert_array_equal(y[:, T + delay :], symbols)


def test_adding_problem_marks_one_value_per_half_and_sums_them():
    X, y = make_adding_problem(100, seq_len=9, seed=0)
    assert X.shape == (100, 9, 2) and y.shape == (100, 1) and y.dtype == np.float64
    values, markers = X[:, :, 0], X[:, :, 1]
    assert values.min() >= 0.0 and values.max() <= 1.0
    np.testing.assert_array_equal(markers[:, :4].sum(axis=1), 1.0)
    np.testing.assert_array_equal(markers[:, 4:].sum(axis=1), 1.0)
    np.testing.assert_allclose(y[:, 0], (values * markers).sum(axis=1), rtol=1e-15)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: make_sine_sequences(0), "n must be a positive"),
        (lambda: make_parity(5, seq_len=0), "seq_len must be a positive"),
        (lambda: make_copy_task(5, delay=0), "delay must be a positive"),
        (lambda: make_adding_problem(5, seq_len=1), "seq_len must be at least 2"),
    ],
)
def test_invalid_arguments_are_explained(call, message):
    with pytest.raises(ValueError, match=message):
        call()
