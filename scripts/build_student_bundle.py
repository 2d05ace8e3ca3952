"""Build the student bundle: ``dist/i2dl-course-student-<version>.zip`` (``make bundle``).

    python scripts/build_student_bundle.py [--out DIR]

The zip holds one folder, ``i2dl-course-student-<version>/``, with

- ``README.md``: how to install and start, and the two student commands;
- ``i2dl-<version>-py3-none-any.whl``: the ``i2dl`` package alone (no ``grader``, no nbgrader),
  with the ``i2dl`` console script and the list of released test cells ``i2dl check`` uses to
  spot deleted ones;
- ``lectures/``: the lecture notebooks with their stored outputs;
- ``exercises/``: the released exercises as committed (run ``i2dl-grader release --check`` first;
  ``make bundle`` does).

Nothing from ``solutions/`` goes in; the build refuses a released notebook that still holds a
solution or hidden-test marker. Entries are sorted and dated SOURCE_DATE_EPOCH (default:
2020-01-01), so the same checkout gives the same bundle.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# The student wheel's dependencies (bounds taken from pyproject.toml where it lists the package).
STUDENT_DEPENDENCIES = ("numpy", "torch", "matplotlib", "scikit-learn", "tqdm", "ipywidgets",
                        "ipykernel", "nbformat", "nbclient", "jupyterlab")
EXTRA_BOUNDS = {"nbclient": "nbclient>=0.10"}  # not a direct dependency of the course package
MARKERS = ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS")
DEBRIS = (".ipynb_checkpoints", "__pycache__")
DEFAULT_EPOCH = 1577836800  # 2020-01-01T00:00:00Z


def _requirement_name(requirement: str) -> str:
    return re.split(r"[\s<>=!~;\[]", requirement, maxsplit=1)[0].lower()


def project_metadata(pyproject: Path) -> tuple[str, list[str]]:
    """(version, dependencies) of the course package."""
    text = pyproject.read_text(encoding="utf-8")
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10: the two fields, read by hand
        version = re.search(r'(?m)^version\s*=\s*"([^"]+)"', text)
        block = re.search(r"(?ms)^dependencies\s*=\s*\[(.*?)\]", text)
        if version is None or block is None:
            raise SystemExit(f"cannot read version and dependencies from {pyproject}") from None
        return version.group(1), re.findall(r'"([^"]+)"', block.group(1))
    project = tomllib.loads(text)["project"]
    return project["version"], list(project["dependencies"])


def student_dependencies(course_dependencies: list[str]) -> list[str]:
    bounds = {_requirement_name(r): r for r in course_dependencies}
    bounds.update(EXTRA_BOUNDS)
    missing = [name for name in STUDENT_DEPENDENCIES if name not in bounds]
    if missing:
        raise SystemExit(f"pyproject.toml lists no {', '.join(missing)}")
    return [bounds[name] for name in STUDENT_DEPENDENCIES]


def released_tests(exercises: Path, version: str) -> dict:
    """What ``i2dl check`` compares a notebook with: every released test and read-only cell."""
    sys.path.insert(0, str(REPO))
    from i2dl._checksum import is_locked_cell, is_test_cell

    notebooks = {}
    for path in sorted(exercises.glob("*/*.ipynb")):
        nb = json.loads(path.read_text(encoding="utf-8"))
        cells = []
        for cell in nb["cells"]:
            meta = cell.get("metadata", {}).get("nbgrader", {})
            if is_locked_cell(cell) and "grade_id" in meta:
                cells.append({"grade_id": meta["grade_id"], "checksum": meta.get("checksum"),
                              "points": meta.get("points"), "test": is_test_cell(cell)})
        if path.stem in notebooks:
            raise SystemExit(f"two released notebooks are called {path.name}")
        notebooks[path.stem] = {"exercise": path.parent.name, "cells": cells}
    return {"version": version, "notebooks": notebooks}


PYPROJECT = """\
[build-system]
requires = ["setuptools>=77"]
build-backend = "setuptools.build_meta"

[project]
name = "i2dl"
version = "{version}"
description = "The helper library and student commands of the i2dl deep-learning course"
requires-python = ">=3.10"
license = "MIT"
dependencies = {dependencies}

[project.scripts]
i2dl = "i2dl.cli:main"

[tool.setuptools.packages.find]
include = ["i2dl", "i2dl.*"]

[tool.setuptools.package-data]
i2dl = ["_released_tests.json"]
"""


def build_wheel(version: str, dependencies: list[str], manifest: dict, work: Path,
                epoch: int) -> Path:
    """The student wheel, built from a copy of i2dl/ and a generated pyproject.toml."""
    source = work / "source"
    shutil.copytree(REPO / "i2dl", source / "i2dl",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "_released_tests.json"))
    (source / "i2dl" / "_released_tests.json").write_text(
        json.dumps(manifest, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    (source / "pyproject.toml").write_text(
        PYPROJECT.format(version=version, dependencies=json.dumps(dependencies)), encoding="utf-8")
    wheels = work / "wheels"
    wheels.mkdir()
    # setuptools' PEP 517 hook itself, in this environment (no isolation, no downloads).
    hook = ("import sys; from setuptools import build_meta; "
            "print(build_meta.build_wheel(sys.argv[1]))")
    proc = subprocess.run(
        [sys.executable, "-c", hook, str(wheels)],
        cwd=source, capture_output=True, text=True,
        env={**os.environ, "SOURCE_DATE_EPOCH": str(epoch)},
    )
    if proc.returncode != 0:
        raise SystemExit(f"building the i2dl wheel failed:\n{proc.stdout}\n{proc.stderr}")
    wheel = wheels / proc.stdout.strip().splitlines()[-1]
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        metadata = zf.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
    stray = [n for n in names if not n.startswith(("i2dl/", f"i2dl-{version}.dist-info/"))]
    if stray:
        raise SystemExit(f"the i2dl wheel holds more than i2dl: {stray[:5]}")
    if "nbgrader" in metadata.lower():
        raise SystemExit("the i2dl wheel depends on nbgrader")
    return wheel


def _files(folder: Path) -> list[Path]:
    found = []
    for path in sorted(folder.rglob("*")):
        parts = path.relative_to(folder).parts
        if any(p in DEBRIS or p.startswith(".") for p in parts) or not path.is_file():
            continue
        if path.is_symlink():
            raise SystemExit(f"{path} is a link; the bundle holds regular files only")
        found.append(path)
    return found


def readme(version: str, wheel: str, exercises: list[str]) -> str:
    first = exercises[0] if exercises else "ex01_linear_regression"
    return f"""\
# i2dl course, student bundle (version {version})

An introduction to deep learning: lectures in `lectures/` (read them in order), exercises in
`exercises/<exercise>/<exercise>.ipynb`, and the helper library `i2dl` they use.

## Install and start

You need Python 3.10 or newer. In this folder, preferably in a fresh virtual environment
(`python -m venv .venv`, then `source .venv/bin/activate`, on Windows `.venv\\Scripts\\activate`):

```console
python -m pip install {wheel}
jupyter lab
```

The first command installs `i2dl` with everything the notebooks need (numpy, PyTorch,
matplotlib, scikit-learn, JupyterLab...); the second opens JupyterLab in your browser.

## Work on an exercise

Replace each `raise NotImplementedError()` with your code and run the test cells: a passing one
prints `PASSED (visible checks) ...`, a failing one says what was expected and where to look.
Hidden tests run only when your notebook is graded, on fresh inputs. Do not edit or delete test
cells: they are restored from the original before grading.

Before handing in, run the whole notebook as the grader will (fresh kernel, same time limits):

```console
i2dl check exercises/{first}/{first}.ipynb
```

It prints every test with passed or FAILED, the first line of the message and its points, and
warns about edited or deleted test cells and cells that are too slow.

Then pack the exercise folder (the notebook and the files next to it) into `YOUR_ID.zip`:

```console
i2dl submit {first} --student YOUR_ID
```

and hand in `YOUR_ID.zip` as your course asks.
"""


def _entry(name: str, epoch: int) -> zipfile.ZipInfo:
    import time

    info = zipfile.ZipInfo(name, date_time=time.gmtime(max(epoch, 315532800))[:6])
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o644 << 16
    return info


def build(out_dir: Path) -> Path:
    version, dependencies = project_metadata(REPO / "pyproject.toml")
    epoch = int(os.environ.get("SOURCE_DATE_EPOCH", DEFAULT_EPOCH))
    exercises = REPO / "exercises"
    for notebook in sorted(exercises.glob("*/*.ipynb")):
        text = notebook.read_text(encoding="utf-8")
        found = [m for m in MARKERS if m in text]
        if found:
            raise SystemExit(f"{notebook} holds {found[0]!r}: run `i2dl-grader release` first")
    top = f"i2dl-course-student-{version}"
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / f"{top}.zip"
    with tempfile.TemporaryDirectory(prefix="i2dl-bundle-") as tmp:
        wheel = build_wheel(version, student_dependencies(dependencies),
                            released_tests(exercises, version), Path(tmp), epoch)
        names = sorted(p.name for p in exercises.iterdir() if p.is_dir())
        entries: list[tuple[str, bytes]] = [
            (f"{top}/README.md", readme(version, wheel.name, names).encode("utf-8")),
            (f"{top}/{wheel.name}", wheel.read_bytes()),
        ]
        for path in sorted((REPO / "lectures").glob("*.ipynb")):
            entries.append((f"{top}/lectures/{path.name}", path.read_bytes()))
        for path in _files(exercises):
            relative = path.relative_to(exercises).as_posix()
            entries.append((f"{top}/exercises/{relative}", path.read_bytes()))
        partial = out_dir / f".{top}.zip.part"
        with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as zf:
            for name, data in sorted(entries):
                zf.writestr(_entry(name, epoch), data)
        os.replace(partial, target)
    size = target.stat().st_size / 1024**2
    print(f"wrote {target.relative_to(REPO) if target.is_relative_to(REPO) else target} "
          f"({len(entries)} files, {size:.1f} MiB): README.md, {wheel.name}, "
          f"{sum('/lectures/' in n for n, _ in entries)} lectures, "
          f"{len(names)} exercises")
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "dist",
                        help="folder for the zip (default: dist/)")
    args = parser.parse_args(argv)
    build(args.out.resolve())
    return 0


if __name__ == "__main__":
    sys.exit(main())
