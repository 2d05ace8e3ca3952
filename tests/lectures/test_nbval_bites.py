"""nbval itself fails a lecture whose stored output no longer matches.

``make test`` no longer runs nbval on the lectures: the browser tests compare their outputs with
nbval's rules (``tests/browser/_stored_outputs.py``; ``test_stored_outputs.py`` and
``tests/browser/test_stored_outputs_check.py`` check that they agree with nbval). This test keeps
nbval itself, run as ``make test`` used to run it, honest on a real lecture.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.lectures

ROOT = Path(__file__).resolve().parents[2]
LECTURE = ROOT / "lectures" / "01_what_is_deep_learning.ipynb"


def _change_first_stored_number(nb: dict) -> str:
    """Alter the first digit of the first printed number; return the changed line."""
    for cell in nb["cells"]:
        for output in cell.get("outputs", []):
            if output.get("output_type") != "stream":
                continue
            text = "".join(output["text"])
            match = re.search(r"\d", text)
            if match:
                digit = match.group()
                new = str((int(digit) + 1) % 10)
                output["text"] = text[: match.start()] + new + text[match.end():]
                return output["text"].splitlines()[0]
    raise AssertionError("the lecture has no printed number to change")


def _nbval(notebook: Path) -> subprocess.CompletedProcess:
    config = notebook.parent / "pytest.ini"
    config.write_text("[pytest]\n")
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-c", str(config),
         "--nbval", "--nbval-current-env", "--nbval-cell-timeout=120",
         "--nbval-sanitize-with", str(ROOT / "lectures" / "sanitize.cfg"), str(notebook)],
        capture_output=True, text=True, timeout=600, cwd=notebook.parent,
    )


def test_a_changed_number_in_a_stored_output_fails_nbval(tmp_path):
    nb = json.loads(LECTURE.read_text())
    _change_first_stored_number(nb)
    copy = tmp_path / LECTURE.name
    copy.write_text(json.dumps(nb))
    proc = _nbval(copy)
    assert proc.returncode == 1, proc.stdout[-3000:]
    assert "1 failed" in proc.stdout
    assert "mismatch" in proc.stdout.lower() or "differ" in proc.stdout.lower()
