"""Test doubles for the downloaders: tiny files in the real formats and a loopback server.

The files are built here from the format descriptions (IDX header layout, CIFAR-10 pickled
batch dicts in a tar.gz), independently of the parsing code under test.
"""

from __future__ import annotations

import gzip
import io
import pickle
import socket
import struct
import tarfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np


def idx_bytes(array: np.ndarray) -> bytes:
    """Encode an array as IDX: zero, zero, type code, ndim, big-endian sizes, big-endian data."""
    codes = {"u1": 0x08, "i1": 0x09, "i2": 0x0B, "i4": 0x0C, "f4": 0x0D, "f8": 0x0E}
    code = codes[array.dtype.str[1:]]
    header = bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


def gzipped(data: bytes) -> bytes:
    return gzip.compress(data, mtime=0)


def mnist_files(n_train: int = 6, n_test: int = 4, seed: int = 0) -> tuple[dict, dict]:
    """Four gzip'd IDX files named like MNIST's, and the arrays they hold."""
    rng = np.random.default_rng(seed)
    arrays = {}
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        arrays[f"{prefix}-images-idx3-ubyte.gz"] = rng.integers(0, 256, (n, 28, 28), np.uint8)
        arrays[f"{prefix}-labels-idx1-ubyte.gz"] = rng.integers(0, 10, n).astype(np.uint8)
    files = {name: gzipped(idx_bytes(array)) for name, array in arrays.items()}
    return files, arrays


def cifar_archive(
    per_batch: int = 3, seed: int = 0, extra_batch: bytes | None = None
) -> tuple[bytes, dict]:
    """A cifar-10-python.tar.gz with six tiny batches, and the arrays they hold.

    ``extra_batch`` replaces the pickled ``test_batch`` (to smuggle in a hostile pickle).
    """
    rng = np.random.default_rng(seed)
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    batches = {}
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name in names:
            batch = {
                b"batch_label": f"{name} of 6".encode(),
                b"labels": [int(v) for v in rng.integers(0, 10, per_batch)],
                b"data": rng.integers(0, 256, (per_batch, 3072), np.uint8),
                b"filenames": [f"img_{i}.png".encode() for i in range(per_batch)],
            }
            batches[name] = batch
            # Protocol 2 is what the published (Python 2) batches use.
            payload = pickle.dumps(batch, protocol=2)
            if name == "test_batch" and extra_batch is not None:
                payload = extra_batch
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(payload)
            archive.addfile(info, io.BytesIO(payload))
    return buffer.getvalue(), batches


class FileServer:
    """An HTTP server on 127.0.0.1 that serves ``files`` and records every request.

    ``files`` maps URL paths (``"/mnist/train-images-idx3-ubyte.gz"``) to bytes. Set
    ``honour_range = False`` to answer Range requests with the whole file, and
    ``cut_after = k`` to announce the full length but close the connection after ``k`` bytes.
    """

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.requests: list[tuple[str, str | None]] = []
        self.honour_range = True
        self.cut_after: int | None = None
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    def __enter__(self) -> FileServer:
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join()

    def ranges(self) -> list[str | None]:
        return [header for _, header in self.requests]

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_GET(self) -> None:
                range_header = self.headers.get("Range")
                server.requests.append((self.path, range_header))
                body = server.files.get(self.path)
                if body is None:
                    self.send_error(404)
                    return
                start = 0
                if range_header and server.honour_range:
                    start = int(range_header.removeprefix("bytes=").split("-")[0])
                    if start >= len(body):
                        self.send_response(416)
                        self.send_header("Content-Range", f"bytes */{len(body)}")
                        self.send_header("Content-Length", "0")
                        self.end_headers()
                        return
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
                else:
                    self.send_response(200)
                payload = body[start:]
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                if server.cut_after is not None:
                    payload = payload[: server.cut_after]
                    self.close_connection = True
                self.wfile.write(payload)

        return Handler


def closed_port_url() -> str:
    """A loopback URL on which nothing listens, so connecting is refused."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"
