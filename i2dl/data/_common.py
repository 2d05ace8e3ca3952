"""Small helpers shared by the real-data loaders (MNIST, Fashion-MNIST, CIFAR-10)."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from numpy.typing import DTypeLike

SPLITS = ("train", "test")


def check_split(split: str) -> None:
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")


def merged_checksums(
    known: Mapping[str, str], overrides: Mapping[str, str] | None
) -> dict[str, str]:
    """The built-in SHA-256 table with the caller's entries replacing matching file names."""
    return {**known, **(overrides or {})}


def to_float_images(raw: np.ndarray, dtype: DTypeLike, flatten: bool) -> np.ndarray:
    """Scale ``uint8`` images ``(N, C, H, W)`` to [0, 1]; optionally flatten to ``(N, C*H*W)``."""
    if not np.issubdtype(np.dtype(dtype), np.floating):
        raise ValueError(f"dtype must be a floating point type, got {np.dtype(dtype)}")
    images = raw.astype(dtype) / np.asarray(255.0, dtype=dtype)
    return images.reshape(len(images), -1) if flatten else images
