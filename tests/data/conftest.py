"""Fixtures for the i2dl.data tests: a private cache folder and a loopback file server."""

from __future__ import annotations

import pytest

from tests.data.fakes import FileServer


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    """Point I2DL_DATA_DIR at a fresh folder so no test touches ~/.cache/i2dl."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("I2DL_DATA_DIR", str(cache))
    return cache


@pytest.fixture
def server():
    with FileServer() as running:
        yield running
