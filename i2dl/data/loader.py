"""Mini-batches from numpy arrays, with reproducible shuffling and augmentation."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np


class DataLoader:
    """Iterate over a data set in mini-batches of ``(X_batch, y_batch)``.

    Parameters
    ----------
    data : tuple of arrays, or a dataset
        Either a tuple ``(X, y)`` of arrays with the same first dimension ``N`` (any number
        of arrays works; each batch is a tuple with one slice per array), or an object with
        ``__len__`` and ``__getitem__(i)`` returning a tuple of arrays for sample ``i``, whose
        samples are stacked into batches.
    batch_size : int
        Samples per batch; the last batch is smaller when ``N`` is not a multiple.
    shuffle : bool
        Visit the samples in a new random order every epoch.
    drop_last : bool
        Skip the last batch if it is smaller than ``batch_size``.
    seed : int or None
        Seed for shuffling and augmentation. Epoch ``k`` uses a generator seeded with
        ``(seed, k)``, so every epoch has its own order and a run can be replayed exactly.
        ``None`` picks a random seed, stored in ``self.seed`` for later replay.
    transform : callable or None
        Applied to the first array of each batch as ``transform(X_batch, rng)``, for
        example an :mod:`i2dl.data.transforms` pipeline.

    Notes
    -----
    Each call to ``iter(loader)`` starts the next epoch (``self.epoch`` counts them from 0);
    ``set_epoch(k)`` makes the next iteration replay epoch ``k``. Batches are new arrays,
    never views into ``data``, so changing them cannot corrupt the data set.
    """

    def __init__(
        self,
        data: Any,
        batch_size: int = 32,
        shuffle: bool = False,
        drop_last: bool = False,
        seed: int | None = None,
        transform: Callable[[np.ndarray, np.random.Generator], np.ndarray] | None = None,
    ) -> None:
        if not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
        if isinstance(data, tuple):
            arrays = tuple(np.asarray(a) for a in data)
            lengths = [len(a) for a in arrays]
            if not arrays or len(set(lengths)) != 1:
                raise ValueError(
                    f"the arrays in data must share their first dimension, got lengths {lengths}"
                )
            self._arrays: tuple[np.ndarray, ...] | None = arrays
            self._size = lengths[0]
        elif hasattr(data, "__len__") and hasattr(data, "__getitem__"):
            self._arrays = None
            self._size = len(data)
        else:
            raise TypeError(
                "data must be a tuple of arrays (X, y) or a dataset with __len__ and "
                f"__getitem__, got {type(data).__name__}"
            )
        self.data = data
        self.batch_size = int(batch_size)
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.transform = transform
        self.seed = int(np.random.SeedSequence().entropy) if seed is None else int(seed)
        self.epoch = 0

    def __len__(self) -> int:
        """Number of batches per epoch."""
        if self.drop_last:
            return self._size // self.batch_size
        return -(-self._size // self.batch_size)

    def set_epoch(self, epoch: int) -> None:
        """Make the next iteration use the order and augmentation of epoch ``epoch``."""
        self.epoch = int(epoch)

    def __iter__(self) -> Iterator[tuple[np.ndarray, ...]]:
        rng = np.random.default_rng([self.seed, self.epoch])
        self.epoch += 1
        order = rng.permutation(self._size) if self.shuffle else np.arange(self._size)
        return self._batches(order, rng)

    def _batches(
        self, order: np.ndarray, rng: np.random.Generator
    ) -> Iterator[tuple[np.ndarray, ...]]:
        for start in range(0, len(self) * self.batch_size, self.batch_size):
            batch = self._gather(order[start : start + self.batch_size])
            if self.transform is not None:
                batch = (self.transform(batch[0], rng), *batch[1:])
            yield batch

    def _gather(self, indices: np.ndarray) -> tuple[np.ndarray, ...]:
        if self._arrays is not None:
            return tuple(a[indices] for a in self._arrays)
        samples = [self.data[int(i)] for i in indices]
        for sample in samples:
            if not isinstance(sample, tuple):
                raise TypeError(
                    "a dataset's __getitem__ must return a tuple such as (x, y), "
                    f"got {type(sample).__name__}"
                )
        return tuple(np.stack(field) for field in zip(*samples, strict=True))
