"""One rule for every ``seed`` argument in :mod:`i2dl.data`."""

from __future__ import annotations

import numpy as np

Seed = int | np.random.Generator | None


def as_generator(seed: Seed) -> np.random.Generator:
    """Turn a ``seed`` argument into a numpy ``Generator``.

    Parameters
    ----------
    seed : int, numpy.random.Generator or None
        An int gives a reproducible generator, a ``Generator`` is used as is (so several calls
        can share one stream), ``None`` draws fresh entropy from the operating system.

    Returns
    -------
    numpy.random.Generator
    """
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is None or isinstance(seed, (int, np.integer)):
        return np.random.default_rng(seed)
    raise TypeError(
        f"seed must be an int, a numpy.random.Generator or None, got {type(seed).__name__}"
    )
