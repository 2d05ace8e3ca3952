"""The browser check every lecture gets: it runs once, reproduces its stored outputs, and each
of its widgets redraws.

Used by the ``test_lectures_*.py`` files, which split the lectures into small groups so that
pytest-xdist (``--dist loadfile``) spreads them over the cores. ``make test`` runs each lecture
only here: nbval no longer collects ``lectures/``. Instead the outputs of this JupyterLab run are
compared with the stored ones as nbval would compare them (``_stored_outputs``).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import nbformat

from tests.browser._stored_outputs import (
    cells_nbval_lets_raise,
    cells_nbval_skips,
    describe_failures,
    nbval_failures,
)
from tests.browser.conftest import REPO_ROOT, LabPage

WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
LECTURE_TIMEOUT_S = 300.0
LECTURES_DIR = REPO_ROOT / "lectures"

# Lecture numbers checked by each test_lectures_<a>_<b>.py file. Every lecture is in exactly one
# group (a test in test_lectures_01_02.py makes sure), since this is where its outputs are checked.
# Pairs keep the files small, so that pytest-xdist can balance them; the two slowest lectures (10
# and 11) are in different files.
GROUPS: tuple[tuple[int, ...], ...] = ((1, 2), (3, 4), (5, 6), (7, 8), (9, 10), (11, 12), (13, 14))


def lectures_numbered(*numbers: int) -> list[str]:
    """Names (stems) of the lectures with these numbers; fails if a number has none."""
    names = []
    for number in numbers:
        found = sorted(LECTURES_DIR.glob(f"{number:02d}_*.ipynb"))
        if len(found) != 1:
            raise FileNotFoundError(
                f"expected exactly one lectures/{number:02d}_*.ipynb, found {len(found)}"
            )
        names.append(found[0].stem)
    return names


def lectures_with_widgets() -> list[str]:
    """Names of the lectures whose stored notebook shows a widget."""
    return [
        path.stem
        for path in sorted(LECTURES_DIR.glob("[0-9][0-9]_*.ipynb"))
        if stored_widget_cells(path)
    ]


def stored_widget_cells(notebook: Path) -> list[int]:
    """Index of every cell whose stored outputs include a widget, once per widget."""
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    return [
        index
        for index, cell in enumerate(cells)
        if cell["cell_type"] == "code"
        for output in cell.get("outputs", [])
        if WIDGET_MIME in output.get("data", {})
    ]


def run_like_nbval(
    lab: LabPage, path: str, timeout_s: float = LECTURE_TIMEOUT_S
) -> dict[int, list[dict[str, Any]]]:
    """Open ``path`` (relative to the server's root), run it all, and return what its kernel sent.

    The notebook runs as nbval would run it: cells nbval skips are emptied first (JupyterLab
    does not send a blank cell to the kernel), and cells whose error nbval compares instead of
    failing on get JupyterLab's ``raises-exception`` tag, so that "Run all" goes on after their
    error as nbval does (neither change is saved). Returns notebook cell index -> the kernel's
    iopub messages for that cell (``LabPage.recorded_runs``), ready for
    ``_stored_outputs.nbval_failures``.
    """
    stored = nbformat.read(lab.server.root_dir / path, as_version=4)
    lab.open_notebook(path)
    for index in cells_nbval_skips(stored):
        lab.set_cell_source(index, "")
    for index in cells_nbval_lets_raise(stored):
        lab.add_cell_tag(index, "raises-exception")
    lab.record_kernel_messages()
    lab.run_all(timeout_s=timeout_s)
    return lab.recorded_runs()


def _unexpected_errors(lab: LabPage, raising: list[int]) -> list[dict[str, Any]]:
    """Error outputs, less those of cells nbval lets raise; widgets that failed always count."""
    return [
        error for error in lab.error_outputs()
        if error["cell"] not in raising or error["ename"] == "WidgetDisplayError"
    ]


def check_lecture(lab: LabPage, name: str) -> list[str]:
    """Run ``lectures/<name>.ipynb`` in JupyterLab, compare its outputs with the stored ones, then
    move every enabled control of its widgets.

    The lecture runs once (see :func:`run_like_nbval`). Fails when a cell shows an error, or when
    the run does not reproduce the outputs stored in the served notebook as nbval would compare
    them (``_stored_outputs``: sanitised with ``lectures/sanitize.cfg``, nbval's tags honoured,
    images and widget ids not compared; the message names each cell, the output and what was
    expected and got). This is the only place ``make test`` checks a lecture's outputs, so it
    happens before any control moves (moving one changes outputs).

    Then controls are moved one after the other, each once (see ``LabPage.move_control``); a
    control the widget disables in its first state (e.g. a leaky-ReLU slope while another
    activation is chosen) is left alone. Fails when a widget the stored notebook has is not
    displayed as a live interactive figure, when moving a control does not redraw its figure with
    a different PNG, or when the page sent a request off loopback. A lecture without a widget
    gets the run and the comparison only. Returns a log of what was done (for ``-s`` runs and
    failure messages).
    """
    path = f"lectures/{name}.ipynb"
    stored = lab.server.root_dir / path
    expected_cells = stored_widget_cells(stored)
    stored_nb = nbformat.read(stored, as_version=4)
    raising = cells_nbval_lets_raise(stored_nb)
    log = []
    start = time.perf_counter()
    runs = run_like_nbval(lab, path)
    log.append(f"{name}: ran all cells in {time.perf_counter() - start:.1f} s")

    errors = _unexpected_errors(lab, raising)
    assert errors == [], f"{path} shows error outputs in JupyterLab:\n" + "\n\n".join(
        f"cell {e['cell']}: {e['ename']}: {e['evalue']}\n{e['traceback']}" for e in errors
    )
    failures = nbval_failures(stored_nb, runs)
    assert failures == [], describe_failures(path, failures)
    log.append(f"{name}: every output as stored (compared as nbval compares them)")
    assert lab.figure_cell_indices() == expected_cells, (
        f"{path}: interactive figures displayed below cells {lab.figure_cell_indices()}, "
        f"the stored notebook has widgets below cells {expected_cells}"
    )

    for figure, cell in enumerate(expected_cells):
        controls = lab.figure_controls(figure)
        assert controls.count() > 0, f"{path}: the figure below cell {cell} has no controls"
        enabled = [c for c in range(controls.count()) if lab.control_enabled(figure, c)]
        assert enabled, f"{path}: every control of the figure below cell {cell} is disabled"
        for control in enabled:
            before = lab.figure_image(figure)
            assert before["png"] and before["width"] > 0, (
                f"{path}: the figure below cell {cell} does not display a PNG before any change"
            )
            action = lab.move_control(figure, control)
            try:
                lab.wait_for_new_image(figure, before["src"])
            except TimeoutError as exc:
                raise AssertionError(
                    f"{path}: {action} did not redraw the figure below cell {cell}: {exc}"
                ) from None
            after = lab.figure_image(figure)
            assert after["png"] and after["width"] > 0, (
                f"{path}: after {action} the figure below cell {cell} shows no PNG"
            )
            assert after["sha256"] != before["sha256"], (
                f"{path}: {action} replaced the figure below cell {cell} by an identical image"
            )
            log.append(f"  cell {cell}: {action}: redrawn ({before['size']} -> {after['size']} B)")
    # The kernel finishes each redraw (and goes idle) just after the new image arrives.
    lab.wait_for_kernel_idle(30_000, what=f"redrawing the widgets of {path}")
    assert _unexpected_errors(lab, raising) == [], (
        f"{path}: moving the widgets' controls left error outputs"
    )
    assert lab.offsite_requests == [], f"{path}: the page sent requests off loopback"
    log.append(f"{name}: done in {time.perf_counter() - start:.1f} s")
    return log
