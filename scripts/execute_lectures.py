"""Execute lecture notebooks in place and store their outputs cleanly for the output check.

    python scripts/execute_lectures.py lectures/01_what_is_deep_learning.ipynb [...]

Runs each notebook top to bottom in a fresh kernel (from the lectures/ folder, so relative paths
behave as they do in JupyterLab and under nbval), records no timing metadata, keeps only a
whitelist of metadata, and writes stable JSON, so that re-executing an unchanged lecture gives
no diff. Prints each notebook's wall time: lectures must stay under 90 s on 2 cores.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

# Widget state is left out: its model ids change on every run, and every widget in the lectures
# also carries a static PNG of its default state.
NOTEBOOK_METADATA_KEYS = ("kernelspec", "language_info")
CELL_METADATA_KEYS = ("tags", "jupyter", "slideshow")


def clean(nb) -> None:
    nb.metadata = {k: nb.metadata[k] for k in NOTEBOOK_METADATA_KEYS if k in nb.metadata}
    nb.metadata.get("language_info", {}).pop("version", None)
    for cell in nb.cells:
        cell.metadata = {k: cell.metadata[k] for k in CELL_METADATA_KEYS if k in cell.metadata}


def execute(path: Path, timeout: int = 300) -> float:
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb, timeout=timeout, kernel_name="python3", record_timing=False,
        resources={"metadata": {"path": str(path.parent)}},
    )
    start = time.perf_counter()
    client.execute()
    seconds = time.perf_counter() - start
    clean(nb)
    nbformat.validate(nb)
    path.write_text(json.dumps(nb, indent=1, sort_keys=True, ensure_ascii=False) + "\n",
                    encoding="utf-8")
    return seconds


def main(paths: list[str]) -> int:
    if not paths:
        paths = sorted(str(p) for p in Path("lectures").glob("[0-9][0-9]_*.ipynb"))
    for name in paths:
        seconds = execute(Path(name))
        print(f"{name}: executed in {seconds:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
