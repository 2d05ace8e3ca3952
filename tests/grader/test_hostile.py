"""Hostile submissions: each is graded in the sandbox and must get exactly the expected result.

The hostile code sits at the top of the ``tanh`` answer cell, after the affine, ReLU and sigmoid
tests (45 points) have run, and before the tanh answer itself; the rest of the notebook is solved.
"""

from __future__ import annotations

import hashlib
import json
import socket
import threading
from pathlib import Path

import pytest

from grader.sample import student_version, write_notebook
from grader.sandbox import sandbox_available
from tests.grader.conftest import EX, NB, REPO, read_grades, run_cli

pytestmark = [
    pytest.mark.grader,
    pytest.mark.skipif(not sandbox_available(), reason="bubblewrap is not installed"),
]

EARNED_BEFORE = 45  # affine_forward 10 + affine_backward 15 + relu 10 + sigmoid 10

LOOP = "while True:\n    pass\n"
STUBBORN = (
    "while True:\n"
    "    try:\n"
    "        while True:\n"
    "            pass\n"
    "    except KeyboardInterrupt:\n"
    "        pass\n"
)
EXIT = "import os\nos._exit(3)\n"
SYS_EXIT = "import sys\nsys.exit()\n"
MEMORY = "hog = bytearray(8 * 1024**3)\n"
DISK = (
    "import os\n"
    "written = 0\n"
    "for _target in ('filler', '/tmp/filler'):\n"
    "    for _i in range(100):\n"
    "        try:\n"
    "            with open(f'{_target}{_i}', 'wb') as _f:\n"
    "                _f.write(b'x' * 64 * 1024**2)\n"
    "            written += 64\n"
    "        except OSError:\n"
    "            break\n"
    "print('wrote MiB', written)\n"
)
FORK = (
    "import os, time\n"
    "children = 0\n"
    "try:\n"
    "    while children < 10_000:\n"
    "        if os.fork() == 0:\n"
    "            time.sleep(20)\n"
    "            os._exit(0)\n"
    "        children += 1\n"
    "except OSError:\n"
    "    pass\n"
    "print('forked', children)\n"
)


def _probe_paths(paths: list[str]) -> str:
    return (
        f"for _p in {paths!r}:\n"
        "    try:\n"
        "        with open(_p, 'rb') as _f:\n"
        "            _f.read(64)\n"
        "        print('READ', _p)\n"
        "    except OSError:\n"
        "        print('blocked', _p)\n"
    )


def _write_paths(paths: list[str]) -> str:
    return (
        f"for _p in {paths!r}:\n"
        "    try:\n"
        "        with open(_p, 'w') as _f:\n"
        "            _f.write('pwned')\n"
        "        print('WROTE', _p)\n"
        "    except OSError:\n"
        "        print('blocked', _p)\n"
    )


def _network(port: int) -> str:
    return (
        "import socket\n"
        "for _host in ('127.0.0.1', '10.0.2.2', '1.1.1.1'):\n"
        "    try:\n"
        f"        socket.create_connection((_host, {port}), timeout=2).close()\n"
        "        print('CONNECTED', _host)\n"
        "    except OSError:\n"
        "        print('blocked', _host)\n"
    )


def _with_prefix(code: str):
    return lambda source: code + "\n" + source


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="session")
def hostile_class(tmp_path_factory):
    root = tmp_path_factory.mktemp("hostile")
    subs = root / "submissions"
    out = root / "out"
    solution = REPO.solutions / EX / f"{NB}.ipynb"
    other = subs / "honest" / EX / f"{NB}.ipynb"
    write_notebook(student_version(REPO, EX, NB), other)
    outside_marker = root / "outside.txt"
    outside_marker.write_text("untouched")
    protected = [solution, other, outside_marker]
    before = {p: _digest(p) for p in protected}

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(5)
    server.settimeout(0.5)
    connections: list[str] = []
    stop = threading.Event()

    def accept():
        while not stop.is_set():
            try:
                conn, addr = server.accept()
            except OSError:
                continue
            connections.append(addr[0])
            conn.close()

    threading.Thread(target=accept, daemon=True).start()
    port = server.getsockname()[1]

    cases = {
        "loop": LOOP,
        "stubborn": STUBBORN,
        "exiter": EXIT,
        "sysexit": SYS_EXIT,
        "hog": MEMORY,
        "filler": DISK,
        "forker": FORK,
        "snoop": _probe_paths(
            [str(solution), str(out / "gradebook.db"), str(other), "/etc/shadow"]
        ),
        "vandal": _write_paths([str(out / "gradebook.db"), str(other), str(outside_marker),
                                str(solution)]),
        "caller": _network(port),
    }
    for student, code in cases.items():
        nb = student_version(REPO, EX, NB, rewrite={"tanh": _with_prefix(code)})
        write_notebook(nb, subs / student / EX / f"{NB}.ipynb")
    proc = run_cli(
        "autograde", str(subs), "--out", str(out), "--exercise", EX, "--no-progress",
        "--cell-timeout", "10", "--notebook-timeout", "120", "--memory-limit", "1536",
    )
    stop.set()
    server.close()
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = json.loads((out / "report.json").read_text())
    after = {p: _digest(p) for p in protected}
    return {
        "out": out, "grades": read_grades(out), "report": report,
        "unchanged": before == after, "connections": connections,
        "paths": {"solution": str(solution), "other": str(other)},
    }


def _outputs(out: Path, student: str) -> str:
    nb = json.loads((out / "autograded" / student / EX / f"{NB}.ipynb").read_text())
    return "".join(
        "".join(o.get("text", "")) for c in nb["cells"] for o in c.get("outputs", [])
        if o.get("output_type") == "stream"
    )


def _row(hostile_class, student):
    row = hostile_class["grades"][student]
    return float(row["score"]), row["status"]


@pytest.mark.parametrize("student", ["loop", "stubborn"])
def test_endless_loops_time_out_and_keep_earlier_credit(hostile_class, student):
    assert _row(hostile_class, student) == (EARNED_BEFORE, "timeout")


def test_os_exit_mid_notebook_keeps_earlier_credit(hostile_class):
    assert _row(hostile_class, "exiter") == (EARNED_BEFORE, "crashed")
    detail = next(s for s in hostile_class["report"]["submissions"] if s["student"] == "exiter")
    assert "died" in detail["reason"]


def test_sys_exit_only_costs_the_cell_it_stops(hostile_class):
    # tanh is never defined: its test (5) and the no-mutation test (10) fail, the rest passes
    assert _row(hostile_class, "sysexit") == (85, "ok")


def test_memory_bomb_is_stopped_with_typed_status(hostile_class):
    assert _row(hostile_class, "hog") == (EARNED_BEFORE, "memory")


def test_disk_fill_is_bounded(hostile_class):
    assert _row(hostile_class, "filler") == (100, "ok")
    printed = _outputs(hostile_class["out"], "filler")
    written = int(printed.split("wrote MiB")[1].split()[0])
    assert written <= 2 * 512, printed  # two 512 MiB tmpfs: the working folder and /tmp


def test_fork_loop_stops_at_the_process_limit(hostile_class):
    assert _row(hostile_class, "forker") == (100, "ok")
    printed = _outputs(hostile_class["out"], "forker")
    forked = int(printed.split("forked")[1].split()[0])
    assert forked < 100, printed


def test_submission_cannot_read_solutions_gradebook_or_other_work(hostile_class):
    assert _row(hostile_class, "snoop") == (100, "ok")
    printed = _outputs(hostile_class["out"], "snoop")
    assert "READ" not in printed and printed.count("blocked") == 4, printed


def test_submission_cannot_write_outside_its_folder(hostile_class):
    assert _row(hostile_class, "vandal") == (100, "ok")
    printed = _outputs(hostile_class["out"], "vandal")
    assert "WROTE" not in printed, printed
    assert hostile_class["unchanged"]
    assert hostile_class["grades"]["honest"]["score"] == "100"


def test_submission_has_no_network(hostile_class):
    assert _row(hostile_class, "caller") == (100, "ok")
    printed = _outputs(hostile_class["out"], "caller")
    assert "CONNECTED" not in printed and printed.count("blocked") == 3, printed
    assert hostile_class["connections"] == []


def test_report_names_the_isolation(hostile_class):
    assert hostile_class["report"]["isolation"].startswith("sandbox: bubblewrap")

