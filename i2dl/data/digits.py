"""The 8x8 handwritten digits that ship with scikit-learn (no download needed)."""

from __future__ import annotations

import numpy as np

# Raw pixels are counts of "on" cells in 4x4 blocks of the original 32x32 bitmaps.
_MAX_PIXEL = 16.0


def load_digits(*, flatten: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Load the 1797 scikit-learn digit images, scaled to [0, 1].

    Parameters
    ----------
    flatten : bool
        Return each image as a 64-vector instead of a one-channel 8x8 image.

    Returns
    -------
    X : ndarray of shape (1797, 1, 8, 8), or (1797, 64) if ``flatten``; float64 in [0, 1]
    y : ndarray of shape (1797,), int64 in [0, 9]
    """
    # Imported here because scikit-learn takes a second to import and most of i2dl.data
    # does not need it.
    from sklearn.datasets import load_digits as sklearn_load_digits

    bunch = sklearn_load_digits()
    X = np.asarray(bunch.images, dtype=np.float64) / _MAX_PIXEL
    X = X.reshape(len(X), -1) if flatten else X[:, None, :, :]
    return X, np.asarray(bunch.target, dtype=np.int64)
