"""matplotlib's font list for sandboxed kernels, built once per machine instead of per kernel.

A sandboxed kernel gets an empty ``/tmp`` as its matplotlib folder (``MPLCONFIGDIR``), so the
first ``import matplotlib.pyplot`` of every graded notebook would scan the system's fonts and
write ``fontlist-v*.json`` there again: about 0.13 s of CPU per hand-in here, where few fonts are
installed (matplotlib opens every font file it finds). Nine of the eleven exercises import
pyplot. The grader instead builds the list once, with the environment's own Python (no student
code), in its cache folder
(``$XDG_CACHE_HOME`` or ``~/.cache``, then ``i2dl-grader/matplotlib-<version>``), and the
sandbox binds it read-only at ``/tmp/fontlist-v*.json``: a hand-in can read it, never change it.
The fonts a kernel sees are the machine's own (the system folders and the environment are bound
at their real paths), so the list is valid inside. Where it cannot be built (no matplotlib, no
writable cache folder) kernels build their own, as before. Like matplotlib's own cache, the list
is not rebuilt when fonts are installed or removed later: delete the folder to rebuild it.
"""

from __future__ import annotations

import importlib.metadata
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

PATTERN = "fontlist-v*.json"
BUILD_SECONDS = 120

_found: dict[str, Path | None] = {}


def _cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "i2dl-grader"


def _existing(folder: Path) -> Path | None:
    lists = sorted(folder.glob(PATTERN))
    return lists[0] if len(lists) == 1 and lists[0].is_file() else None


def font_list() -> Path | None:
    """The font list to bind into sandboxes (built on first use), or None."""
    try:
        version = importlib.metadata.version("matplotlib")
    except importlib.metadata.PackageNotFoundError:
        return None
    if version in _found:
        return _found[version]
    try:
        folder = _cache_root() / f"matplotlib-{version}"
    except (RuntimeError, KeyError):  # no home folder to be found (and no XDG_CACHE_HOME)
        return None
    found = _existing(folder)
    if found is None:
        found = _build(folder)
    _found[version] = found
    return found


def _build(folder: Path) -> Path | None:
    """Build the list in a fresh folder and move it into place (another grader may win)."""
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        scratch = Path(tempfile.mkdtemp(prefix=".build-", dir=folder.parent))
    except OSError:
        return None
    try:
        env = {**os.environ, "MPLCONFIGDIR": str(scratch)}
        subprocess.run(
            [sys.executable, "-c", "import matplotlib.font_manager"],
            env=env, check=True, capture_output=True, timeout=BUILD_SECONDS,
        )
        built = _existing(scratch)
        if built is None:
            return None
        for other in scratch.iterdir():  # lock files and the like: only the list goes
            if other != built:
                shutil.rmtree(other, ignore_errors=True) if other.is_dir() else other.unlink()
        built.chmod(0o644)
        scratch.chmod(0o755)
        try:
            os.rename(scratch, folder)
        except OSError:
            pass  # another grading process put its list there first
        return _existing(folder)
    except (OSError, subprocess.SubprocessError):
        return None
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
