"""CIFAR-10: 32x32 colour images in ten classes, 50000 train and 10000 test.

The "python version" archive holds six pickled batches (``data_batch_1`` .. ``_5`` and
``test_batch``), each a dict with ``b"data"`` (a ``uint8`` array of shape (10000, 3072):
1024 red, then 1024 green, then 1024 blue values of a row-major 32x32 image) and
``b"labels"`` (a list of ints).

Unpickling can run arbitrary code chosen by whoever wrote the file. Two guards make it
acceptable here: the archive's SHA-256 is checked before anything is read, and the
unpickler below only rebuilds plain Python containers and numpy arrays, refusing every
other callable a pickle may name. The archive is read in memory; nothing is extracted.
"""

from __future__ import annotations

import codecs
import os
import pickle
import tarfile
from collections.abc import Mapping, Sequence

import numpy as np
from numpy.typing import DTypeLike

from i2dl.data._common import check_split, merged_checksums, to_float_images
from i2dl.data.download import dataset_dir, fetch

try:
    from numpy._core.multiarray import _reconstruct
except ImportError:  # numpy < 2
    from numpy.core.multiarray import _reconstruct

CIFAR10_ARCHIVE = "cifar-10-python.tar.gz"
CIFAR10_MIRRORS = ("https://www.cs.toronto.edu/~kriz/",)
# The digest Keras and TensorFlow Datasets use for the published archive.
CIFAR10_SHA256 = {
    CIFAR10_ARCHIVE: "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce",
}
CIFAR10_CLASSES = (
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
)
_FOLDER = "cifar-10-batches-py"
_MEMBERS = {
    "train": [f"{_FOLDER}/data_batch_{i}" for i in range(1, 6)],
    "test": [f"{_FOLDER}/test_batch"],
}


class _ArrayUnpickler(pickle.Unpickler):
    """An unpickler that can only build numpy arrays (besides plain containers)."""

    # The names a pickled ndarray refers to. numpy 1 writes numpy.core, numpy 2
    # numpy._core; Python 3 pickles of protocol 2 spell bytes as _codecs.encode(str).
    _ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
        ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
        ("numpy", "ndarray"): np.ndarray,
        ("numpy", "dtype"): np.dtype,
        ("_codecs", "encode"): codecs.encode,
    }

    def find_class(self, module: str, name: str):
        try:
            return self._ALLOWED[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(
                f"refusing to load {module}.{name} from a CIFAR-10 batch: only numpy arrays "
                f"are allowed, so this file is not a genuine CIFAR-10 batch"
            ) from None


def _read_batch(archive: tarfile.TarFile, member: str) -> tuple[np.ndarray, np.ndarray]:
    """The ``(data, labels)`` arrays of one pickled batch inside the archive."""
    try:
        file = archive.extractfile(member)
    except KeyError:
        file = None
    if file is None:
        raise ValueError(f"{member} is missing from the CIFAR-10 archive")
    with file:
        # The batches were written by Python 2; "bytes" keeps their str keys as bytes.
        batch = _ArrayUnpickler(file, encoding="bytes").load()
    if not isinstance(batch, dict) or b"data" not in batch or b"labels" not in batch:
        raise ValueError(f"{member} is not a dict with b'data' and b'labels'")
    data = np.asarray(batch[b"data"])
    labels = np.asarray(batch[b"labels"], dtype=np.int64)
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3 * 32 * 32:
        raise ValueError(
            f"{member}: expected b'data' of shape (N, 3072) and type uint8, "
            f"got {data.shape} {data.dtype}"
        )
    if labels.shape != (len(data),):
        raise ValueError(f"{member}: {len(data)} images but labels of shape {labels.shape}")
    return data, labels


def load_cifar10(
    root: str | os.PathLike | None = None,
    split: str = "train",
    *,
    flatten: bool = False,
    dtype: DTypeLike = np.float64,
    mirrors: Sequence[str] | None = None,
    checksums: Mapping[str, str] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Load CIFAR-10, downloading the archive (163 MiB) into the cache on first use.

    Parameters
    ----------
    root : path or None
        Data folder; the archive goes to ``<root>/cifar10/``. ``None`` means the cache
        folder (``$I2DL_DATA_DIR`` or ``~/.cache/i2dl``).
    split : {"train", "test"}
        Which part to load (50000 or 10000 images).
    flatten : bool
        Return images as 3072-vectors instead of ``(3, 32, 32)`` arrays.
    dtype : floating dtype
        Pixel type; ``np.float32`` halves the memory (the float64 train set takes 1.2 GB).
    mirrors : sequence of str or None
        Base URLs to download from, tried in order; ``None`` uses ``CIFAR10_MIRRORS``.
    checksums : mapping or None
        SHA-256 digests by file name, replacing entries of ``CIFAR10_SHA256``.

    Returns
    -------
    X : ndarray of shape (N, 3, 32, 32), or (N, 3072) if ``flatten``; values in [0, 1]
    y : ndarray of shape (N,), int64 in [0, 9]; label ``k`` names ``CIFAR10_CLASSES[k]``
    """
    check_split(split)
    path = fetch(
        CIFAR10_ARCHIVE,
        sha256=merged_checksums(CIFAR10_SHA256, checksums)[CIFAR10_ARCHIVE],
        mirrors=CIFAR10_MIRRORS if mirrors is None else mirrors,
        directory=dataset_dir("cifar10", root),
    )
    with tarfile.open(path, "r:gz") as archive:
        batches = [_read_batch(archive, member) for member in _MEMBERS[split]]
    data = np.concatenate([data for data, _ in batches])
    labels = np.concatenate([labels for _, labels in batches])
    X = to_float_images(data.reshape(-1, 3, 32, 32), dtype, flatten)
    return X, labels
