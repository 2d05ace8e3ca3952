"""MNIST and Fashion-MNIST: 28x28 grey images in ten classes, 60000 train and 10000 test.

Both sets are four gzip'd IDX files with the same names and layout. The SHA-256 digests
below are those of the published files; they agree with the checksum tables of
TensorFlow Datasets and torchvision.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

import numpy as np
from numpy.typing import DTypeLike

from i2dl.data._common import check_split, merged_checksums, to_float_images
from i2dl.data.download import dataset_dir, fetch
from i2dl.data.idx import read_idx_gz

MNIST_MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
)
MNIST_SHA256 = {
    "train-images-idx3-ubyte.gz": (
        "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609"
    ),
    "train-labels-idx1-ubyte.gz": (
        "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c"
    ),
    "t10k-images-idx3-ubyte.gz": (
        "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6"
    ),
    "t10k-labels-idx1-ubyte.gz": (
        "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6"
    ),
}

FASHION_MNIST_MIRRORS = (
    "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
    "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
)
FASHION_MNIST_SHA256 = {
    "train-images-idx3-ubyte.gz": (
        "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84"
    ),
    "train-labels-idx1-ubyte.gz": (
        "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845"
    ),
    "t10k-images-idx3-ubyte.gz": (
        "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073"
    ),
    "t10k-labels-idx1-ubyte.gz": (
        "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5"
    ),
}
FASHION_MNIST_CLASSES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)


def _load_idx_dataset(
    name: str,
    root: str | os.PathLike | None,
    split: str,
    flatten: bool,
    dtype: DTypeLike,
    mirrors: Sequence[str],
    checksums: Mapping[str, str],
) -> tuple[np.ndarray, np.ndarray]:
    check_split(split)
    prefix = "train" if split == "train" else "t10k"
    directory = dataset_dir(name, root)
    arrays = []
    for kind in (f"{prefix}-images-idx3-ubyte.gz", f"{prefix}-labels-idx1-ubyte.gz"):
        path = fetch(kind, sha256=checksums[kind], mirrors=mirrors, directory=directory)
        arrays.append(read_idx_gz(path))
    images, labels = arrays
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
        raise ValueError(
            f"{name} {split} files do not fit together: images of shape {images.shape}, "
            f"labels of shape {labels.shape}; expected (N, H, W) and (N,)"
        )
    X = to_float_images(images[:, None, :, :], dtype, flatten)
    return X, labels.astype(np.int64)


def load_mnist(
    root: str | os.PathLike | None = None,
    split: str = "train",
    *,
    flatten: bool = False,
    dtype: DTypeLike = np.float64,
    mirrors: Sequence[str] | None = None,
    checksums: Mapping[str, str] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Load MNIST handwritten digits, downloading them into the cache on first use.

    Parameters
    ----------
    root : path or None
        Data folder; files go to ``<root>/mnist/``. ``None`` means the cache folder
        (``$I2DL_DATA_DIR`` or ``~/.cache/i2dl``).
    split : {"train", "test"}
        Which part to load (60000 or 10000 images).
    flatten : bool
        Return images as 784-vectors instead of ``(1, 28, 28)`` arrays.
    dtype : floating dtype
        Pixel type; ``np.float32`` halves the memory (the float64 train set takes 376 MB).
    mirrors : sequence of str or None
        Base URLs to download from, tried in order; ``None`` uses ``MNIST_MIRRORS``.
    checksums : mapping or None
        SHA-256 digests by file name, replacing entries of ``MNIST_SHA256`` (for a mirror
        that serves other files).

    Returns
    -------
    X : ndarray of shape (N, 1, 28, 28), or (N, 784) if ``flatten``; values in [0, 1]
    y : ndarray of shape (N,), int64 in [0, 9]
    """
    mirrors = MNIST_MIRRORS if mirrors is None else mirrors
    checksums = merged_checksums(MNIST_SHA256, checksums)
    return _load_idx_dataset("mnist", root, split, flatten, dtype, mirrors, checksums)


def load_fashion_mnist(
    root: str | os.PathLike | None = None,
    split: str = "train",
    *,
    flatten: bool = False,
    dtype: DTypeLike = np.float64,
    mirrors: Sequence[str] | None = None,
    checksums: Mapping[str, str] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Load Fashion-MNIST clothing images, downloading them into the cache on first use.

    Same layout and parameters as :func:`load_mnist` (files go to ``<root>/fashion_mnist/``,
    defaults ``FASHION_MNIST_MIRRORS`` and ``FASHION_MNIST_SHA256``); label ``k`` names
    ``FASHION_MNIST_CLASSES[k]``.

    Returns
    -------
    X : ndarray of shape (N, 1, 28, 28), or (N, 784) if ``flatten``; values in [0, 1]
    y : ndarray of shape (N,), int64 in [0, 9]
    """
    mirrors = FASHION_MNIST_MIRRORS if mirrors is None else mirrors
    checksums = merged_checksums(FASHION_MNIST_SHA256, checksums)
    return _load_idx_dataset("fashion_mnist", root, split, flatten, dtype, mirrors, checksums)
