"""The 8x8 handwritten digits that ship with scikit-learn (no download needed)."""

from __future__ import annotations

import gzip
import importlib.util
from pathlib import Path

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
    data = _read_digits_file()
    X = data[:, :-1].reshape(-1, 8, 8) / _MAX_PIXEL
    X = X.reshape(len(X), -1) if flatten else X[:, None, :, :]
    return X, data[:, -1].astype(np.int64)


def _read_digits_file() -> np.ndarray:
    """scikit-learn's ``datasets/data/digits.csv.gz`` as a (1797, 65) float array (64 pixels,
    then the label), read straight from the installed package.

    Importing ``sklearn`` costs about a second of CPU, more than the rest of a typical exercise's
    set-up together, and every graded notebook pays it again; the file is all that is needed.
    If the file is not where scikit-learn keeps it, scikit-learn's own loader is used.
    """
    spec = importlib.util.find_spec("sklearn")  # locates the package without running it
    if spec is not None and spec.origin is not None:
        path = Path(spec.origin).parent / "datasets" / "data" / "digits.csv.gz"
        if path.is_file():
            with gzip.open(path, "rt", encoding="ascii") as fh:
                return np.loadtxt(fh, delimiter=",", dtype=np.float64, ndmin=2)
    from sklearn.datasets import load_digits as sklearn_load_digits

    bunch = sklearn_load_digits()
    return np.column_stack([bunch.data, bunch.target]).astype(np.float64)
