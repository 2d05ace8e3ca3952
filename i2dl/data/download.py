"""Download data files once, check them, and keep them in a cache folder.

The cache folder is ``$I2DL_DATA_DIR`` if that variable is set, else ``~/.cache/i2dl``.
:func:`fetch` returns a cached file if its SHA-256 matches; otherwise it tries each mirror in
turn. Bytes are written to ``<name>.part`` first, so an interrupted download is resumed
with an HTTP ``Range`` request instead of starting over, and the finished file only
appears under its real name after its SHA-256 has been checked.

Only :mod:`urllib` from the standard library is used.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import shutil
import sys
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path

ENV_DATA_DIR = "I2DL_DATA_DIR"
_CHUNK_BYTES = 1 << 16
_TIMEOUT_S = 30.0


class DownloadError(RuntimeError):
    """No mirror could deliver a file."""


class ChecksumError(DownloadError):
    """A downloaded file does not have the expected SHA-256."""


def default_data_dir() -> Path:
    """The cache folder: ``$I2DL_DATA_DIR`` if set, else ``~/.cache/i2dl``."""
    configured = os.environ.get(ENV_DATA_DIR)
    return Path(configured).expanduser() if configured else Path.home() / ".cache" / "i2dl"


def dataset_dir(name: str, root: str | os.PathLike | None = None) -> Path:
    """The folder that holds the files of data set ``name``: ``<root or cache>/<name>``."""
    return Path(root).expanduser() / name if root is not None else default_data_dir() / name


def sha256_of(path: str | os.PathLike) -> str:
    """Hex SHA-256 digest of a file, read in chunks so large files need little memory."""
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for chunk in iter(lambda: file.read(_CHUNK_BYTES), b""):
            digest.update(chunk)
    return digest.hexdigest()


def fetch(
    filename: str,
    *,
    sha256: str,
    mirrors: Sequence[str],
    directory: str | os.PathLike,
    timeout: float = _TIMEOUT_S,
) -> Path:
    """Return the path of ``directory/filename``, downloading it first if needed.

    Parameters
    ----------
    filename : str
        Name of the file on the mirrors and in the cache.
    sha256 : str
        Expected hex SHA-256 digest of the file.
    mirrors : sequence of str
        Base URLs, tried in order; the file's URL is ``base + "/" + filename``.
    directory : path
        Cache folder for this file (created if missing).
    timeout : float
        Seconds to wait for a server before giving up on it.

    Returns
    -------
    pathlib.Path
        The verified file.

    Raises
    ------
    ChecksumError
        The downloaded bytes have another SHA-256; the file has been deleted.
    DownloadError
        No mirror could be reached or none served the file.
    """
    if not mirrors:
        raise ValueError("mirrors must name at least one base URL")
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / filename
    if target.exists():
        if sha256_of(target) == sha256:
            return target
        # A corrupt or outdated copy: replace it rather than fail forever.
        target.unlink()

    partial = directory / (filename + ".part")
    failures: list[tuple[str, BaseException]] = []
    for base in mirrors:
        url = base.rstrip("/") + "/" + filename
        try:
            _download(url, partial, timeout)
        except (urllib.error.URLError, http.client.HTTPException, OSError) as error:
            # Whatever arrived stays in the .part file for the next mirror or the next call.
            failures.append((url, error))
            continue
        found = sha256_of(partial)
        if found != sha256:
            partial.unlink()
            raise ChecksumError(
                f"{filename} from {url} has SHA-256 {found}, expected {sha256}. "
                f"The file was deleted. Try again; if this persists, the mirror serves "
                f"different or damaged data and another mirror is needed."
            )
        os.replace(partial, target)
        return target
    raise DownloadError(_failure_message(filename, sha256, target, failures))


def _download(url: str, partial: Path, timeout: float) -> None:
    """Append the rest of ``url`` to ``partial``, or rewrite it if resuming is impossible."""
    offset = partial.stat().st_size if partial.exists() else 0
    try:
        response = _open(url, offset, timeout)
    except urllib.error.HTTPError as error:
        # 416: the server has no bytes after `offset`, so the part file is not a prefix of
        # this file (or already too long). Start again from the beginning.
        if error.code != 416 or offset == 0:
            raise
        partial.unlink()
        offset = 0
        response = _open(url, offset, timeout)
    with response:
        # Append only if the server really sent the requested range; a plain 200 response
        # carries the whole file.
        resumed = offset > 0 and response.status == 206 and _range_start(response) == offset
        print(
            f"Downloading {url}" + (f" (resuming at byte {offset})" if resumed else ""),
            file=sys.stderr,
        )
        kept = offset if resumed else 0
        with open(partial, "ab" if resumed else "wb") as file:
            shutil.copyfileobj(response, file, _CHUNK_BYTES)
        # http.client returns a short body without complaint when the connection drops, so
        # compare with the announced length; the bytes so far stay for the next attempt.
        announced = response.headers.get("Content-Length")
        received = partial.stat().st_size - kept
        if announced is not None and received < int(announced):
            raise http.client.IncompleteRead(b"", int(announced) - received)


def _open(url: str, offset: int, timeout: float) -> http.client.HTTPResponse:
    request = urllib.request.Request(url, headers={"User-Agent": "i2dl-course"})
    if offset > 0:
        request.add_header("Range", f"bytes={offset}-")
    return urllib.request.urlopen(request, timeout=timeout)


def _range_start(response: http.client.HTTPResponse) -> int | None:
    """First byte position in a ``Content-Range: bytes START-END/TOTAL`` header."""
    header = response.headers.get("Content-Range", "")
    unit, _, positions = header.partition(" ")
    start = positions.partition("-")[0]
    return int(start) if unit == "bytes" and start.isdigit() else None


def _failure_message(
    filename: str, sha256: str, target: Path, failures: list[tuple[str, BaseException]]
) -> str:
    tried = "\n".join(f"  {url}: {_describe(error)}" for url, error in failures)
    unreachable = all(_is_unreachable(error) for _, error in failures)
    diagnosis = (
        "No server could be reached: this machine seems to be offline (or a proxy or "
        "firewall blocks it)."
        if unreachable
        else "The servers answered but none delivered the file."
    )
    return (
        f"Could not download {filename}. Tried:\n{tried}\n{diagnosis}\n"
        f"To install it by hand, download it on a machine with internet access from one of "
        f"the URLs above and copy it to\n  {target}\n"
        f"(its SHA-256 must be {sha256}), or set {ENV_DATA_DIR} to a folder that holds "
        f"it under {target.parent.name}/."
    )


def _describe(error: BaseException) -> str:
    if isinstance(error, urllib.error.HTTPError):
        return f"HTTP {error.code} {error.reason}"
    if isinstance(error, urllib.error.URLError):
        return str(error.reason)
    if isinstance(error, http.client.IncompleteRead):
        return f"connection closed with {error.expected} bytes missing (kept for resuming)"
    return f"{type(error).__name__}: {error}"


def _is_unreachable(error: BaseException) -> bool:
    """True for failures to connect at all, as opposed to a server's error reply."""
    if isinstance(error, urllib.error.HTTPError):
        return False
    return isinstance(error, (urllib.error.URLError, ConnectionError, TimeoutError))
