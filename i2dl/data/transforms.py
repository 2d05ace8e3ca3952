"""Image transforms and data augmentation.

Every transform is called as ``transform(x, rng)`` where ``x`` is one image of shape
``(C, H, W)`` or a batch of shape ``(N, C, H, W)``. In a batch, random transforms draw a
separate decision for every image. Randomness comes only from the ``rng`` argument (a
``numpy.random.Generator``), so augmentation is reproducible; random transforms refuse to
run without one. Transforms return new arrays and never write into ``x``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


def _as_batch(x: np.ndarray, name: str) -> tuple[np.ndarray, bool]:
    """View ``x`` as a batch ``(N, C, H, W)``; also say whether it was a single image."""
    x = np.asarray(x)
    if x.ndim == 3:
        return x[None], True
    if x.ndim == 4:
        return x, False
    raise ValueError(
        f"{name} expects one image (C, H, W) or a batch (N, C, H, W), "
        f"got an array of shape {x.shape}"
    )


def _require_rng(rng: np.random.Generator | None, name: str) -> np.random.Generator:
    if not isinstance(rng, np.random.Generator):
        raise TypeError(
            f"{name} is random and needs a generator: call it as "
            f"transform(x, rng=np.random.default_rng(seed))"
        )
    return rng


@dataclass(frozen=True)
class Compose:
    """Apply ``transforms`` in order, passing the same ``rng`` to each."""

    transforms: Sequence

    def __call__(self, x: np.ndarray, rng: np.random.Generator | None = None) -> np.ndarray:
        for transform in self.transforms:
            x = transform(x, rng)
        return x


@dataclass(frozen=True)
class ToFloat:
    """Convert to float64: ``uint8`` images (0..255) are divided by 255, others only cast."""

    def __call__(self, x: np.ndarray, rng: np.random.Generator | None = None) -> np.ndarray:
        x = np.asarray(x)
        if x.dtype == np.uint8:
            return x.astype(np.float64) / 255.0
        return x.astype(np.float64)


@dataclass(frozen=True, eq=False)
class Normalize:
    """Per-channel standardisation ``(x - mean[c]) / std[c]`` along the channel axis (-3).

    ``mean`` and ``std`` are scalars or sequences with one value per channel.
    """

    mean: float | Sequence[float]
    std: float | Sequence[float]

    def __post_init__(self) -> None:
        if np.any(np.asarray(self.std, dtype=np.float64) <= 0):
            raise ValueError(f"std must be positive, got {self.std}")

    @classmethod
    def from_data(cls, X: np.ndarray) -> Normalize:
        """Fit to a batch ``X`` of shape ``(N, C, H, W)``: per-channel mean and std."""
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 4:
            raise ValueError(f"from_data expects a batch (N, C, H, W), got shape {X.shape}")
        return cls(mean=tuple(X.mean(axis=(0, 2, 3))), std=tuple(X.std(axis=(0, 2, 3))))

    def __call__(self, x: np.ndarray, rng: np.random.Generator | None = None) -> np.ndarray:
        batch, _ = _as_batch(x, "Normalize")
        mean = np.asarray(self.mean, dtype=np.float64).reshape(-1, 1, 1)
        std = np.asarray(self.std, dtype=np.float64).reshape(-1, 1, 1)
        if len(mean) not in (1, batch.shape[1]) or len(std) not in (1, batch.shape[1]):
            raise ValueError(
                f"Normalize has {len(mean)} means and {len(std)} stds but the images have "
                f"{batch.shape[1]} channels; give one value per channel or a scalar"
            )
        return (np.asarray(x, dtype=np.float64) - mean) / std


@dataclass(frozen=True)
class RandomHorizontalFlip:
    """Mirror each image left-right with probability ``p``."""

    p: float = 0.5

    def __call__(self, x: np.ndarray, rng: np.random.Generator | None = None) -> np.ndarray:
        rng = _require_rng(rng, "RandomHorizontalFlip")
        batch, single = _as_batch(x, "RandomHorizontalFlip")
        flip = rng.random(len(batch)) < self.p
        out = np.where(flip[:, None, None, None], batch[..., ::-1], batch)
        return out[0] if single else out


@dataclass(frozen=True)
class RandomCrop:
    """Zero-pad every side by ``padding`` pixels, then cut a random ``size`` window.

    ``size`` is an int (square) or ``(height, width)``. With ``size`` equal to the input size
    and ``padding > 0`` this is the classic "random shift" augmentation.
    """

    size: int | tuple[int, int]
    padding: int = 0

    def __call__(self, x: np.ndarray, rng: np.random.Generator | None = None) -> np.ndarray:
        rng = _require_rng(rng, "RandomCrop")
        batch, single = _as_batch(x, "RandomCrop")
        height, width = (self.size, self.size) if isinstance(self.size, int) else self.size
        p = self.padding
        padded = np.pad(batch, ((0, 0), (0, 0), (p, p), (p, p)))
        n, channels, padded_h, padded_w = padded.shape
        if height > padded_h or width > padded_w:
            raise ValueError(
                f"RandomCrop size {(height, width)} is larger than the padded images "
                f"{(padded_h, padded_w)}; reduce size or increase padding"
            )
        top = rng.integers(0, padded_h - height + 1, size=n)
        left = rng.integers(0, padded_w - width + 1, size=n)
        # One fancy index picks a differently placed window from every image at once.
        images = np.arange(n)[:, None, None, None]
        planes = np.arange(channels)[None, :, None, None]
        rows = (top[:, None] + np.arange(height))[:, None, :, None]
        cols = (left[:, None] + np.arange(width))[:, None, None, :]
        out = padded[images, planes, rows, cols]
        return out[0] if single else out


@dataclass(frozen=True)
class RandomBrightness:
    """Add one offset drawn uniformly from ``[-delta, delta]`` to all pixels of each image.

    The result is clipped to ``clip`` (default [0, 1]); pass ``clip=None`` to keep it as is.
    """

    delta: float
    clip: tuple[float, float] | None = (0.0, 1.0)

    def __call__(self, x: np.ndarray, rng: np.random.Generator | None = None) -> np.ndarray:
        rng = _require_rng(rng, "RandomBrightness")
        batch, single = _as_batch(x, "RandomBrightness")
        offset = rng.uniform(-self.delta, self.delta, size=len(batch))
        out = batch + offset[:, None, None, None]
        if self.clip is not None:
            out = np.clip(out, *self.clip)
        return out[0] if single else out
