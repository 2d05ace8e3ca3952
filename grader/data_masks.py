"""Masked data files: what a student's kernel reads in place of data that holds grading secrets.

Some exercises grade trained models on held-out rows of a data set that ships with the Python
environment: ex11 grades on 597 of the 8x8 digits that scikit-learn installs as
``sklearn/datasets/data/digits.csv.gz``. The environment is bound read-only into the sandbox, so
without a mask a hand-in could read the held-out labels itself (train on them, or answer the
grader from a lookup table). A *mask* is a copy of such a file with the secret rows blanked; the
sandbox binds it read-only over the real file, so inside the kernel every path to the file gives
the copy. The trusted grader process, where hidden regions run, keeps reading the real file.

An exercise asks for masks in the metadata of its SOURCE notebook (``solutions/``)::

    "metadata": {"i2dl": {"masked_data": ["digits_ex11"]}, "kernelspec": ...}

The grader reads the declaration from there, never from a hand-in (its metadata is the student's
to change) or from the release (``i2dl-grader release`` keeps only the kernel metadata). Each
mask's file is written once per grading process and reused for every kernel it starts.
"""

from __future__ import annotations

import gzip
import importlib.util
import json
import multiprocessing.util
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

METADATA_KEY = "i2dl"
MASKS_FIELD = "masked_data"


class MaskError(ValueError):
    """A mask that is unknown, declared wrongly, or whose real file is not what it expects."""


@dataclass(frozen=True)
class DataMask:
    """One masked file: where the real file is, and how its masked copy is made."""

    name: str
    description: str
    locate: Callable[[], Path]  # the real file, at the path the kernel's Python reads it from
    rewrite: Callable[[bytes], bytes]  # real content -> masked content


# --- ex11: the scikit-learn digits, held-out rows blanked ---------------------------------

DIGITS_COUNT = 1797
DIGITS_SPLIT_SEED = 11
DIGITS_FIRST_HELD_OUT = 1200
DIGITS_FIELDS = 65  # 64 pixels (0..16), then the label
# What a held-out row holds inside the kernel: every pixel 0 and the label -1. scikit-learn's
# loader and i2dl.data.load_digits read it without complaint (the row count, and with it the
# setup cell's shuffle, stays the same), -1 is no class, and a blank image gives nothing to train
# on or to match against the images the grader sends.
MASKED_PIXEL = 0
MASKED_LABEL = -1


def ex11_held_out(count: int = DIGITS_COUNT) -> np.ndarray:
    """Indices of ex11's held-out digits, ``order[1200:]`` of the setup cell's shuffle."""
    return np.random.default_rng(DIGITS_SPLIT_SEED).permutation(count)[DIGITS_FIRST_HELD_OUT:]


def _sklearn_digits_file() -> Path:
    spec = importlib.util.find_spec("sklearn")  # finds the package without importing it
    if spec is None or spec.origin is None:
        raise MaskError("scikit-learn is not installed, so its digits cannot be masked")
    return Path(spec.origin).parent / "datasets" / "data" / "digits.csv.gz"


def _mask_digits(content: bytes) -> bytes:
    lines = gzip.decompress(content).decode("ascii").splitlines()
    if len(lines) != DIGITS_COUNT:
        raise MaskError(
            f"scikit-learn's digits.csv.gz has {len(lines)} rows, ex11's split expects "
            f"{DIGITS_COUNT}: check the scikit-learn version against constraints.txt"
        )
    blank = ",".join([str(MASKED_PIXEL)] * (DIGITS_FIELDS - 1) + [str(MASKED_LABEL)])
    for index in ex11_held_out(len(lines)):
        if lines[index].count(",") != DIGITS_FIELDS - 1:
            raise MaskError(
                f"row {index} of scikit-learn's digits.csv.gz does not hold {DIGITS_FIELDS} "
                "comma-separated values"
            )
        lines[index] = blank
    return gzip.compress(("\n".join(lines) + "\n").encode("ascii"), mtime=0)


MASKS: dict[str, DataMask] = {
    mask.name: mask
    for mask in [
        DataMask(
            "digits_ex11",
            "scikit-learn's 8x8 digits with ex11's 597 held-out rows blanked "
            f"(pixels {MASKED_PIXEL}, label {MASKED_LABEL})",
            _sklearn_digits_file,
            _mask_digits,
        ),
    ]
}


# --- declarations -------------------------------------------------------------------------


def declared_masks(metadata: dict, where: str = "the notebook") -> tuple[str, ...]:
    """The mask names a notebook's metadata asks for (checked against the registry)."""
    known = ", ".join(sorted(MASKS))
    section = metadata.get(METADATA_KEY, {})
    if not isinstance(section, dict):
        raise MaskError(
            f"{where}: metadata {METADATA_KEY} should be a dict such as "
            f'{{"{MASKS_FIELD}": [...]}}, got {section!r}'
        )
    names = section.get(MASKS_FIELD, [])
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise MaskError(
            f"{where}: metadata {METADATA_KEY}.{MASKS_FIELD} should be a list of mask names "
            f"(known: {known}), got {names!r}"
        )
    unknown = sorted(set(names) - set(MASKS))
    if unknown:
        raise MaskError(
            f"{where}: metadata {METADATA_KEY}.{MASKS_FIELD} names unknown mask(s) "
            f"{', '.join(unknown)}; known: {known} (add new ones to grader/data_masks.py)"
        )
    return tuple(dict.fromkeys(names))


def source_masks(source_notebook: Path) -> tuple[str, ...]:
    """Masks declared by a source notebook; none when there is no such notebook."""
    try:
        text = source_notebook.read_text(encoding="utf-8")
    except FileNotFoundError:
        return ()
    metadata = json.loads(text).get("metadata", {})
    return declared_masks(metadata, str(source_notebook))


def source_notebook(config, resources: dict) -> Path | None:
    """The source notebook (``solutions/``) of the notebook nbgrader is grading, or None.

    ``config`` is the nbgrader configuration (its course directory names the source folder) and
    ``resources`` nbgrader's resources of the notebook (assignment and notebook ids).
    """
    from nbgrader.coursedir import CourseDirectory

    ids = (resources or {}).get("nbgrader", {})
    if not ids.get("assignment") or not ids.get("notebook"):
        return None
    coursedir = CourseDirectory(config=config)
    folder = coursedir.format_path(coursedir.source_directory, ".", ids["assignment"])
    return Path(folder) / f"{ids['notebook']}.ipynb"


def masks_for(config, resources: dict) -> tuple[tuple[str, str], ...]:
    """Read-only binds (masked copy, real file) for the notebook nbgrader is grading."""
    source = source_notebook(config, resources)
    return () if source is None else bind_pairs(source_masks(source))


# --- masked files ---------------------------------------------------------------------------

_cache: dict[tuple, Path] = {}
_cache_dir: tuple[int, Path] | None = None  # (pid, folder): a forked worker makes its own


def _folder() -> Path:
    global _cache_dir
    if _cache_dir is None or _cache_dir[0] != os.getpid():
        folder = Path(tempfile.mkdtemp(prefix="i2dl-masks-"))
        os.chmod(folder, 0o755)
        # Removed when this process ends, also as a worker of a process pool (no atexit there).
        multiprocessing.util.Finalize(
            None, shutil.rmtree, args=(str(folder),), kwargs={"ignore_errors": True},
            exitpriority=10,
        )
        _cache_dir = (os.getpid(), folder)
    return _cache_dir[1]


def masked_file(name: str) -> tuple[Path, Path]:
    """(masked copy, real file) of the mask ``name``; the copy is made once per process."""
    if name not in MASKS:
        raise MaskError(f"unknown data mask {name!r}; known: {', '.join(sorted(MASKS))}")
    mask = MASKS[name]
    real = mask.locate()
    try:
        info = real.stat()
    except OSError as exc:
        raise MaskError(f"mask {name}: cannot read {real} ({exc.strerror})") from exc
    key = (name, str(real), info.st_mtime_ns, info.st_size, os.getpid())
    copy = _cache.get(key)
    if copy is None or not copy.is_file():
        copy = _folder() / f"{name}{''.join(real.suffixes)}"
        partial = copy.with_name(copy.name + ".partial")
        partial.write_bytes(mask.rewrite(real.read_bytes()))
        os.chmod(partial, 0o644)
        os.replace(partial, copy)
        _cache[key] = copy
    return copy, real


def bind_pairs(names: Iterable[str]) -> tuple[tuple[str, str], ...]:
    """(masked copy, real file) path pairs for the sandbox to bind, in a stable order."""
    pairs = []
    for name in names:
        copy, real = masked_file(name)
        pairs.append((str(copy), str(real)))
    return tuple(pairs)
