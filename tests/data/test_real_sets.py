"""MNIST, Fashion-MNIST and CIFAR-10 loaders, served tiny real-format files over loopback."""

from __future__ import annotations

import hashlib
import os
import pickle
import re

import numpy as np
import pytest

from i2dl.data import (
    ChecksumError,
    DownloadError,
    load_cifar10,
    load_fashion_mnist,
    load_mnist,
)
from i2dl.data.cifar import CIFAR10_ARCHIVE, CIFAR10_SHA256
from i2dl.data.mnist import FASHION_MNIST_SHA256, MNIST_SHA256
from tests.data.fakes import cifar_archive, closed_port_url, mnist_files

pytestmark = pytest.mark.data

IDX_LOADERS = [(load_mnist, "mnist"), (load_fashion_mnist, "fashion_mnist")]


def digests(files: dict[str, bytes]) -> dict[str, str]:
    return {name: hashlib.sha256(body).hexdigest() for name, body in files.items()}


@pytest.fixture
def idx_server(server):
    files, arrays = mnist_files()
    for name, body in files.items():
        server.files[f"/idx/{name}"] = body
    return server, digests(files), arrays


@pytest.mark.parametrize(("load", "folder"), IDX_LOADERS)
@pytest.mark.parametrize(("split", "prefix"), [("train", "train"), ("test", "t10k")])
def test_idx_loader_downloads_parses_and_caches(idx_server, tmp_path, load, folder, split, prefix):
    server, checksums, arrays = idx_server
    kwargs = dict(mirrors=[server.url + "/idx/"], checksums=checksums)
    X, y = load(tmp_path, split, **kwargs)

    images = arrays[f"{prefix}-images-idx3-ubyte.gz"]
    labels = arrays[f"{prefix}-labels-idx1-ubyte.gz"]
    assert X.shape == (len(images), 1, 28, 28) and X.dtype == np.float64
    np.testing.assert_array_equal(X[:, 0], images / 255.0)
    assert y.dtype == np.int64
    np.testing.assert_array_equal(y, labels)
    assert sorted(os.listdir(tmp_path / folder)) == [
        f"{prefix}-images-idx3-ubyte.gz",
        f"{prefix}-labels-idx1-ubyte.gz",
    ]

    requests = len(server.requests)
    assert requests == 2
    X_again, y_again = load(tmp_path, split, **kwargs)
    assert len(server.requests) == requests
    np.testing.assert_array_equal(X_again, X)
    np.testing.assert_array_equal(y_again, y)


def test_idx_loader_flatten_and_dtype(idx_server, tmp_path):
    server, checksums, arrays = idx_server
    X, _ = load_mnist(
        tmp_path,
        "test",
        flatten=True,
        dtype=np.float32,
        mirrors=[server.url + "/idx"],
        checksums=checksums,
    )
    images = arrays["t10k-images-idx3-ubyte.gz"]
    assert X.shape == (len(images), 784) and X.dtype == np.float32
    np.testing.assert_allclose(X, images.reshape(len(images), -1) / 255.0, rtol=1e-6)


def test_default_root_is_the_env_var_folder(idx_server, private_cache):
    server, checksums, _ = idx_server
    load_fashion_mnist(split="test", mirrors=[server.url + "/idx/"], checksums=checksums)
    assert (private_cache / "fashion_mnist" / "t10k-images-idx3-ubyte.gz").exists()


def test_idx_loader_checksum_mismatch_deletes_file(idx_server, tmp_path):
    server, checksums, _ = idx_server
    checksums["train-images-idx3-ubyte.gz"] = "ab" * 32
    with pytest.raises(ChecksumError, match="train-images-idx3-ubyte.gz"):
        load_mnist(tmp_path, "train", mirrors=[server.url + "/idx/"], checksums=checksums)
    assert not any(name.startswith("train-images") for name in os.listdir(tmp_path / "mnist"))


def test_idx_loader_offline_error(tmp_path):
    url = closed_port_url()
    with pytest.raises(DownloadError) as caught:
        load_mnist(tmp_path, "test", mirrors=[url])
    message = str(caught.value)
    assert f"{url}/t10k-images-idx3-ubyte.gz" in message
    assert "offline" in message
    assert str(tmp_path / "mnist" / "t10k-images-idx3-ubyte.gz") in message


@pytest.mark.parametrize("load", [load_mnist, load_fashion_mnist, load_cifar10])
def test_unknown_split_is_rejected(load, tmp_path):
    with pytest.raises(ValueError, match="split must be one of"):
        load(tmp_path, "validation", mirrors=[closed_port_url()])


@pytest.fixture
def cifar_server(server):
    archive, batches = cifar_archive()
    server.files[f"/cifar/{CIFAR10_ARCHIVE}"] = archive
    return server, archive, batches


def expected_cifar(batches, names):
    data = np.concatenate([batches[name][b"data"] for name in names])
    labels = np.concatenate([batches[name][b"labels"] for name in names])
    return data, labels


@pytest.mark.parametrize(
    ("split", "names"),
    [("train", [f"data_batch_{i}" for i in range(1, 6)]), ("test", ["test_batch"])],
)
def test_cifar_downloads_parses_and_caches(cifar_server, tmp_path, split, names):
    server, archive, batches = cifar_server
    kwargs = dict(
        mirrors=[server.url + "/cifar"],
        checksums={CIFAR10_ARCHIVE: hashlib.sha256(archive).hexdigest()},
    )
    X, y = load_cifar10(tmp_path, split, **kwargs)

    data, labels = expected_cifar(batches, names)
    assert X.shape == (len(data), 3, 32, 32) and X.dtype == np.float64
    # Row layout: 1024 red values, then green, then blue, each a row-major 32x32 image.
    np.testing.assert_array_equal(X[:, 0, 0, 1], data[:, 1] / 255.0)
    np.testing.assert_array_equal(X[:, 1, 2, 0], data[:, 1024 + 64] / 255.0)
    np.testing.assert_array_equal(X[:, 2, 31, 31], data[:, 3071] / 255.0)
    np.testing.assert_array_equal(X.reshape(len(X), -1), data / 255.0)
    assert y.dtype == np.int64
    np.testing.assert_array_equal(y, labels)

    load_cifar10(tmp_path, split, **kwargs)
    assert len(server.requests) == 1


def test_cifar_resumes_a_partial_archive(cifar_server, tmp_path):
    server, archive, batches = cifar_server
    folder = tmp_path / "cifar10"
    folder.mkdir()
    (folder / f"{CIFAR10_ARCHIVE}.part").write_bytes(archive[:1000])
    X, y = load_cifar10(
        tmp_path,
        "test",
        flatten=True,
        mirrors=[server.url + "/cifar/"],
        checksums={CIFAR10_ARCHIVE: hashlib.sha256(archive).hexdigest()},
    )
    assert server.ranges() == ["bytes=1000-"]
    data, labels = expected_cifar(batches, ["test_batch"])
    np.testing.assert_array_equal(X, data / 255.0)
    np.testing.assert_array_equal(y, labels)


class _Hostile:
    """Unpickling this would create a folder: a stand-in for running any command."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (os.mkdir, (self.path,))


def test_cifar_refuses_pickles_that_call_anything_but_numpy(server, tmp_path):
    marker = tmp_path / "pwned"
    payload = pickle.dumps({b"data": _Hostile(str(marker)), b"labels": []}, protocol=2)
    archive, _ = cifar_archive(extra_batch=payload)
    server.files[f"/cifar/{CIFAR10_ARCHIVE}"] = archive
    with pytest.raises(pickle.UnpicklingError, match=r"refusing to load .*mkdir"):
        load_cifar10(
            tmp_path,
            "test",
            mirrors=[server.url + "/cifar/"],
            checksums={CIFAR10_ARCHIVE: hashlib.sha256(archive).hexdigest()},
        )
    assert not marker.exists()


@pytest.mark.parametrize("table", [MNIST_SHA256, FASHION_MNIST_SHA256, CIFAR10_SHA256])
def test_built_in_checksums_are_sha256_hex_digests(table):
    assert table
    for name, digest in table.items():
        assert re.fullmatch(r"[0-9a-f]{64}", digest), name
    assert len(set(table.values())) == len(table)
