"""i2dl.data.download.fetch against a loopback HTTP server: caching, checksums, resuming."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from i2dl.data.download import (
    ChecksumError,
    DownloadError,
    dataset_dir,
    default_data_dir,
    fetch,
    sha256_of,
)
from tests.data.fakes import closed_port_url

pytestmark = pytest.mark.data

NAME = "blob.bin"
BODY = np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8).tobytes()
DIGEST = hashlib.sha256(BODY).hexdigest()


@pytest.fixture
def serving(server):
    server.files[f"/files/{NAME}"] = BODY
    return server


def get(server, directory: Path) -> Path:
    return fetch(NAME, sha256=DIGEST, mirrors=[server.url + "/files/"], directory=directory)


def test_download_then_cache_hit_makes_no_request(serving, tmp_path):
    path = get(serving, tmp_path)
    assert path == tmp_path / NAME
    assert path.read_bytes() == BODY
    assert not (tmp_path / f"{NAME}.part").exists()
    assert serving.requests == [(f"/files/{NAME}", None)]

    assert get(serving, tmp_path) == path
    assert len(serving.requests) == 1


def test_checksum_mismatch_deletes_file_and_names_both_digests(serving, tmp_path):
    wrong = "0" * 64
    with pytest.raises(ChecksumError) as caught:
        fetch(NAME, sha256=wrong, mirrors=[serving.url + "/files"], directory=tmp_path)
    message = str(caught.value)
    assert NAME in message and DIGEST in message and wrong in message
    assert "deleted" in message
    assert list(tmp_path.iterdir()) == []


def test_resume_from_partial_file_requests_only_the_rest(serving, tmp_path):
    (tmp_path / f"{NAME}.part").write_bytes(BODY[:1234])
    path = get(serving, tmp_path)
    assert serving.ranges() == ["bytes=1234-"]
    assert path.read_bytes() == BODY


def test_dropped_connection_leaves_part_file_that_the_next_call_resumes(serving, tmp_path):
    serving.cut_after = 700
    with pytest.raises(DownloadError) as caught:
        get(serving, tmp_path)
    assert "offline" not in str(caught.value)
    assert (tmp_path / f"{NAME}.part").read_bytes() == BODY[:700]

    serving.cut_after = None
    assert get(serving, tmp_path).read_bytes() == BODY
    assert serving.ranges() == [None, "bytes=700-"]


def test_server_ignoring_range_rewrites_instead_of_appending(serving, tmp_path):
    serving.honour_range = False
    (tmp_path / f"{NAME}.part").write_bytes(BODY[:100])
    assert get(serving, tmp_path).read_bytes() == BODY
    assert serving.ranges() == ["bytes=100-"]


def test_part_file_longer_than_remote_file_restarts_from_zero(serving, tmp_path):
    (tmp_path / f"{NAME}.part").write_bytes(BODY + b"stale bytes")
    assert get(serving, tmp_path).read_bytes() == BODY
    assert serving.ranges() == [f"bytes={len(BODY) + 11}-", None]


def test_corrupt_cached_file_is_downloaded_again(serving, tmp_path):
    (tmp_path / NAME).write_bytes(b"not the right content")
    assert get(serving, tmp_path).read_bytes() == BODY
    assert len(serving.requests) == 1


def test_next_mirror_is_tried_when_one_lacks_the_file(serving, tmp_path):
    mirrors = [serving.url + "/missing/", serving.url + "/files/"]
    path = fetch(NAME, sha256=DIGEST, mirrors=mirrors, directory=tmp_path)
    assert path.read_bytes() == BODY
    assert [p for p, _ in serving.requests] == [f"/missing/{NAME}", f"/files/{NAME}"]


def test_all_mirrors_answering_404_is_not_called_offline(serving, tmp_path):
    with pytest.raises(DownloadError) as caught:
        fetch(NAME, sha256=DIGEST, mirrors=[serving.url + "/missing"], directory=tmp_path)
    message = str(caught.value)
    assert f"{serving.url}/missing/{NAME}: HTTP 404" in message
    assert "offline" not in message


def test_offline_error_names_url_and_where_to_put_the_file(tmp_path):
    url = closed_port_url()
    with pytest.raises(DownloadError) as caught:
        fetch(NAME, sha256=DIGEST, mirrors=[url], directory=tmp_path)
    message = str(caught.value)
    assert f"{url}/{NAME}" in message
    assert "offline" in message
    assert str(tmp_path / NAME) in message
    assert DIGEST in message
    assert "I2DL_DATA_DIR" in message


def test_file_placed_by_hand_is_used_without_network(tmp_path):
    (tmp_path / NAME).write_bytes(BODY)
    assert fetch(NAME, sha256=DIGEST, mirrors=[closed_port_url()], directory=tmp_path).exists()


def test_empty_mirror_list_is_rejected(tmp_path):
    with pytest.raises(ValueError, match="mirrors"):
        fetch(NAME, sha256=DIGEST, mirrors=[], directory=tmp_path)


def test_cache_folder_comes_from_env_var_else_home(monkeypatch, tmp_path):
    monkeypatch.setenv("I2DL_DATA_DIR", str(tmp_path / "mine"))
    assert default_data_dir() == tmp_path / "mine"
    assert dataset_dir("mnist") == tmp_path / "mine" / "mnist"
    assert dataset_dir("mnist", root=tmp_path) == tmp_path / "mnist"

    monkeypatch.delenv("I2DL_DATA_DIR")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_data_dir() == tmp_path / "home" / ".cache" / "i2dl"


def test_sha256_of_matches_hashlib(tmp_path):
    path = tmp_path / "x"
    path.write_bytes(BODY * 30)
    assert sha256_of(path) == hashlib.sha256(BODY * 30).hexdigest()
