"""Sequence tasks for recurrent networks, all laid out batch-first: ``(N, T, features)``.

Regression targets are float64, classification targets int64. Each task stresses one thing:
sine waves (smooth next-step prediction), parity (counting over the whole sequence), copy
(remembering symbols across a delay) and adding (finding two marked values among noise).
"""

from __future__ import annotations

import numpy as np

from i2dl.data._seeding import Seed, as_generator


def _check_positive(**values: int) -> None:
    for name, value in values.items():
        if value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value}")


def make_sine_sequences(
    n: int = 1000, seq_len: int = 50, *, noise: float = 0.0, seed: Seed = None
) -> tuple[np.ndarray, np.ndarray]:
    """Sine waves with random amplitude, period and phase, for next-step regression.

    Wave ``i`` is ``a_i sin(2 pi t / p_i + phi_i)`` at integer steps ``t``, with amplitude
    ``a_i`` in [0.5, 1.5], period ``p_i`` in [8, 32] steps and phase ``phi_i`` in [0, 2 pi).

    Parameters
    ----------
    n : int
        Number of sequences.
    seq_len : int
        Number of time steps ``T``.
    noise : float
        Standard deviation of Gaussian noise added to the inputs only.
    seed : int, numpy.random.Generator or None
        Source of randomness.

    Returns
    -------
    X : ndarray of shape (n, T, 1), float64
        The wave at steps ``0 .. T-1`` (plus noise).
    y : ndarray of shape (n, T, 1), float64
        The noise-free wave one step later, at steps ``1 .. T``; ``y[:, -1]`` is the target
        of a many-to-one model.
    """
    _check_positive(n=n, seq_len=seq_len)
    rng = as_generator(seed)
    amplitude = rng.uniform(0.5, 1.5, size=(n, 1))
    period = rng.uniform(8.0, 32.0, size=(n, 1))
    phase = rng.uniform(0.0, 2.0 * np.pi, size=(n, 1))
    steps = np.arange(seq_len + 1)
    wave = amplitude * np.sin(2.0 * np.pi * steps / period + phase)
    X = wave[:, :-1] + noise * rng.standard_normal((n, seq_len))
    return X[:, :, None], wave[:, 1:, None]


def make_parity(
    n: int = 1000, seq_len: int = 10, *, running: bool = False, seed: Seed = None
) -> tuple[np.ndarray, np.ndarray]:
    """Random bit strings labelled with their parity (1 if the number of ones is odd).

    Parameters
    ----------
    n : int
        Number of sequences.
    seq_len : int
        Number of bits ``T``.
    running : bool
        If True, label every prefix (an easier task with feedback at every step).
    seed : int, numpy.random.Generator or None
        Source of randomness.

    Returns
    -------
    X : ndarray of shape (n, T, 1), float64 in {0, 1}
    y : ndarray of shape (n,) or, if ``running``, (n, T); int64 in {0, 1}
    """
    _check_positive(n=n, seq_len=seq_len)
    rng = as_generator(seed)
    bits = rng.integers(0, 2, size=(n, seq_len))
    prefix_parity = (np.cumsum(bits, axis=1) % 2).astype(np.int64)
    y = prefix_parity if running else prefix_parity[:, -1]
    return bits[:, :, None].astype(np.float64), y


def make_copy_task(
    n: int = 1000,
    seq_len: int = 5,
    *,
    n_symbols: int = 8,
    delay: int = 5,
    seed: Seed = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Remember ``seq_len`` symbols and repeat them after a delay and a "go" marker.

    Tokens are integers: 0 is blank, ``1 .. n_symbols`` are data symbols and
    ``n_symbols + 1`` is the go marker. With ``T = seq_len`` and ``L = 2 T + delay`` steps::

        input  : s_1 .. s_T | blank * (delay - 1) | go | blank * T
        target : blank * (T + delay)                   | s_1 .. s_T

    Parameters
    ----------
    n : int
        Number of sequences.
    seq_len : int
        Number of symbols to copy ``T``.
    n_symbols : int
        Size of the data alphabet.
    delay : int
        Steps from the last symbol to the go marker (at least 1).
    seed : int, numpy.random.Generator or None
        Source of randomness.

    Returns
    -------
    X : ndarray of shape (n, L, n_symbols + 2), float64
        One-hot input tokens.
    y : ndarray of shape (n, L), int64 in [0, n_symbols]
        Target token at every step.
    """
    _check_positive(n=n, seq_len=seq_len, n_symbols=n_symbols, delay=delay)
    rng = as_generator(seed)
    total = 2 * seq_len + delay
    symbols = rng.integers(1, n_symbols + 1, size=(n, seq_len))
    tokens = np.zeros((n, total), dtype=np.int64)
    tokens[:, :seq_len] = symbols
    tokens[:, seq_len + delay - 1] = n_symbols + 1
    y = np.zeros((n, total), dtype=np.int64)
    y[:, seq_len + delay :] = symbols
    X = np.eye(n_symbols + 2)[tokens]
    return X, y


def make_adding_problem(
    n: int = 1000, seq_len: int = 50, *, seed: Seed = None
) -> tuple[np.ndarray, np.ndarray]:
    """Sum the two marked numbers in a sequence of random numbers.

    Feature 0 holds numbers drawn uniformly from [0, 1]; feature 1 is a marker that is 1 at
    exactly two steps, one in each half of the sequence, and 0 elsewhere.

    Parameters
    ----------
    n : int
        Number of sequences.
    seq_len : int
        Number of steps ``T`` (at least 2).
    seed : int, numpy.random.Generator or None
        Source of randomness.

    Returns
    -------
    X : ndarray of shape (n, T, 2), float64
    y : ndarray of shape (n, 1), float64 in [0, 2]
        Sum of the two marked numbers.
    """
    _check_positive(n=n)
    if seq_len < 2:
        raise ValueError(f"seq_len must be at least 2 (one marker per half), got {seq_len}")
    rng = as_generator(seed)
    values = rng.uniform(0.0, 1.0, size=(n, seq_len))
    half = seq_len // 2
    first = rng.integers(0, half, size=n)
    second = rng.integers(half, seq_len, size=n)
    markers = np.zeros((n, seq_len))
    rows = np.arange(n)
    markers[rows, first] = 1.0
    markers[rows, second] = 1.0
    y = (values[rows, first] + values[rows, second])[:, None]
    return np.stack([values, markers], axis=2), y
