"""Data for the course: synthetic sets, real image sets, a mini-batch loader, transforms.

Everything random takes a ``seed`` (an int, a ``numpy.random.Generator`` or ``None``), so
every data set, split, shuffle and augmentation can be reproduced exactly.

Modules
-------
synthetic   two-dimensional toy problems: XOR, spirals, moons, blobs
shapes      procedurally drawn images of filled shapes
sequences   sequence tasks for recurrent networks
digits      the 8x8 digits shipped with scikit-learn
splits      seeded train / validation / test splits
loader      ``DataLoader``: mini-batches with reproducible shuffling
transforms  image transforms and augmentation
download    cached, checksummed, resumable downloads
idx         reader for the IDX format of MNIST
mnist       MNIST and Fashion-MNIST
cifar       CIFAR-10
"""

from i2dl.data.cifar import CIFAR10_CLASSES, load_cifar10
from i2dl.data.digits import load_digits
from i2dl.data.download import ChecksumError, DownloadError, default_data_dir, fetch
from i2dl.data.loader import DataLoader
from i2dl.data.mnist import FASHION_MNIST_CLASSES, load_fashion_mnist, load_mnist
from i2dl.data.sequences import (
    make_adding_problem,
    make_copy_task,
    make_parity,
    make_sine_sequences,
)
from i2dl.data.shapes import SHAPE_CLASSES, make_shapes
from i2dl.data.splits import train_val_test_split
from i2dl.data.synthetic import make_blobs, make_moons, make_spirals, make_xor
from i2dl.data.transforms import (
    Compose,
    Normalize,
    RandomBrightness,
    RandomCrop,
    RandomHorizontalFlip,
    ToFloat,
)

__all__ = [
    "make_xor",
    "make_spirals",
    "make_moons",
    "make_blobs",
    "make_shapes",
    "SHAPE_CLASSES",
    "make_sine_sequences",
    "make_parity",
    "make_copy_task",
    "make_adding_problem",
    "load_digits",
    "train_val_test_split",
    "DataLoader",
    "Compose",
    "ToFloat",
    "Normalize",
    "RandomHorizontalFlip",
    "RandomCrop",
    "RandomBrightness",
    "load_mnist",
    "load_fashion_mnist",
    "FASHION_MNIST_CLASSES",
    "load_cifar10",
    "CIFAR10_CLASSES",
    "fetch",
    "default_data_dir",
    "DownloadError",
    "ChecksumError",
]
