"""i2dl.data.idx: the IDX reader used for MNIST and Fashion-MNIST."""

from __future__ import annotations

import gzip

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from i2dl.data.idx import parse_idx, read_idx_gz
from tests.data.fakes import idx_bytes

pytestmark = pytest.mark.data

IDX_DTYPES = [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64]


@settings(max_examples=30, deadline=None)
@given(
    st.sampled_from(IDX_DTYPES).flatmap(
        lambda dtype: hnp.arrays(
            dtype,
            hnp.array_shapes(min_dims=1, max_dims=4, min_side=0, max_side=5),
            elements=hnp.from_dtype(np.dtype(dtype), allow_nan=False),
        )
    )
)
def test_round_trip_keeps_shape_type_and_values(array):
    parsed = parse_idx(idx_bytes(array))
    assert parsed.shape == array.shape
    assert parsed.dtype == array.dtype and parsed.dtype.isnative
    np.testing.assert_array_equal(parsed, array)


def test_header_and_data_are_big_endian():
    data = bytes([0, 0, 0x0B, 2, 0, 0, 0, 1, 0, 0, 0, 2, 0x01, 0x02, 0xFF, 0xFE])
    np.testing.assert_array_equal(parse_idx(data), [[258, -2]])


def test_gzip_file(tmp_path):
    array = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    path = tmp_path / "x-idx3-ubyte.gz"
    path.write_bytes(gzip.compress(idx_bytes(array)))
    np.testing.assert_array_equal(read_idx_gz(path), array)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\x01\x00\x08\x01\x00\x00\x00\x01\x07", "two zero bytes"),
        (b"\x00\x00\x07\x01\x00\x00\x00\x01\x07", "type code 0x07"),
        (b"\x00\x00\x08\x03\x00\x00\x00\x01", "ends early"),
        (b"\x00\x00\x08\x01\x00\x00\x00\x03\x07\x07", r"shape \(3,\) \(3 bytes.*holds 2 bytes"),
    ],
)
def test_malformed_files_are_rejected(data, message):
    with pytest.raises(ValueError, match=message):
        parse_idx(data)
