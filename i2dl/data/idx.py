"""Reader for the IDX format used by MNIST and Fashion-MNIST.

An IDX file is a header followed by raw numbers, all big-endian:

* bytes 0-1: zero;
* byte 2: type code of the numbers (0x08 unsigned byte, 0x09 signed byte, 0x0B int16,
  0x0C int32, 0x0D float32, 0x0E float64);
* byte 3: number of dimensions ``d``;
* then ``d`` unsigned 32-bit sizes, then the data in C (row-major) order.
"""

from __future__ import annotations

import gzip
import os
import struct

import numpy as np

_TYPE_CODES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def parse_idx(data: bytes) -> np.ndarray:
    """Decode the bytes of an (uncompressed) IDX file.

    Parameters
    ----------
    data : bytes
        The whole file.

    Returns
    -------
    ndarray
        An array with the shape from the header, in native byte order.

    Raises
    ------
    ValueError
        The header is malformed or the data size does not match the header.
    """
    if len(data) < 4 or data[0] != 0 or data[1] != 0:
        raise ValueError("not an IDX file: it must start with two zero bytes")
    type_code, ndim = data[2], data[3]
    if type_code not in _TYPE_CODES:
        raise ValueError(f"unknown IDX type code 0x{type_code:02X}")
    header_bytes = 4 + 4 * ndim
    if len(data) < header_bytes:
        raise ValueError(f"IDX header announces {ndim} dimensions but the file ends early")
    shape = struct.unpack(f">{ndim}I", data[4:header_bytes])
    dtype = np.dtype(_TYPE_CODES[type_code])
    expected = int(np.prod(shape)) * dtype.itemsize
    found = len(data) - header_bytes
    if found != expected:
        raise ValueError(
            f"IDX header announces shape {shape} ({expected} bytes of data) "
            f"but the file holds {found} bytes"
        )
    array = np.frombuffer(data, dtype=dtype, offset=header_bytes).reshape(shape)
    return array.astype(dtype.newbyteorder("="))


def read_idx_gz(path: str | os.PathLike) -> np.ndarray:
    """Read a gzip-compressed IDX file such as ``train-images-idx3-ubyte.gz``."""
    with gzip.open(path, "rb") as file:
        return parse_idx(file.read())
