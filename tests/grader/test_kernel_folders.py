"""Kernel folders left by killed grading processes are removed by the next one; others stay."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from grader import kernels
from grader.kernels import FOLDER_PREFIX, OWNER_FILE, Kernel, KernelSettings, sweep_stale_folders
from grader.sandbox import Limits, sandbox_available

pytestmark = pytest.mark.grader


def _folder(base: Path, name: str, owner: str | None = None, age_s: float = 0.0) -> Path:
    folder = base / f"{FOLDER_PREFIX}{name}"
    (folder / "run").mkdir(parents=True)
    (folder / "run" / "connection.json").write_text("{}")
    if owner is not None:
        (folder / OWNER_FILE).write_text(owner)
    if age_s:
        then = time.time() - age_s
        os.utime(folder, (then, then))
    return folder


def _ended_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_folders_of_ended_graders_go_and_the_rest_stay(tmp_path):
    me = f"{os.getpid()} {kernels._process_start(os.getpid())}"
    day = kernels.UNOWNED_GRACE_SECONDS
    ended = _folder(tmp_path, "ended", owner=f"{_ended_pid()} 12345")
    reused = _folder(tmp_path, "reused", owner=f"{os.getpid()} 1")  # same number, other process
    garbled = _folder(tmp_path, "garbled", owner="not a process")  # names no process: by age
    old_garbled = _folder(tmp_path, "old-garbled", owner="", age_s=day + 60)
    old_unowned = _folder(tmp_path, "old", age_s=day + 60)
    running = _folder(tmp_path, "running", owner=me)
    new_unowned = _folder(tmp_path, "new", age_s=day - 60)  # being made, or an older grader's
    other = tmp_path / "not-a-kernel-folder"
    other.mkdir()
    (other / OWNER_FILE).write_text(f"{_ended_pid()} 1")
    link = tmp_path / f"{FOLDER_PREFIX}link"
    link.symlink_to(ended.parent / "elsewhere", target_is_directory=True)
    (ended.parent / "elsewhere").mkdir()

    removed = sweep_stale_folders(str(tmp_path))

    assert sorted(removed) == sorted(str(f) for f in (ended, reused, old_garbled, old_unowned))
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [running.name, new_unowned.name, garbled.name, other.name, link.name, "elsewhere"])
    assert (running / "run" / "connection.json").is_file()


def test_a_new_kernel_folder_names_this_process_as_its_owner(monkeypatch, short_tmp):
    monkeypatch.setattr(kernels.tempfile, "tempdir", str(short_tmp))
    folder = kernels._kernel_folder()
    assert folder.parent == short_tmp and folder.name.startswith(FOLDER_PREFIX)
    owner = (folder / OWNER_FILE).read_text()
    assert owner.split()[0] == str(os.getpid())
    assert sorted(p.name for p in folder.iterdir()) == [OWNER_FILE]
    assert kernels._owner_alive(owner)
    assert sweep_stale_folders(str(short_tmp)) == []
    assert folder.is_dir()


def _process_naming(*args: str) -> subprocess.Popen:
    """A process that waits, with ``args`` on its command line (as a sandboxed kernel has)."""
    return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)", *args])


def test_a_sandbox_left_running_in_a_stale_folder_is_killed_with_it(tmp_path):
    # A grader killed before bubblewrap armed --die-with-parent leaves its sandbox running.
    me = f"{os.getpid()} {kernels._process_start(os.getpid())}"
    stale = _folder(tmp_path, "stale", owner=f"{_ended_pid()} 12345")
    running = _folder(tmp_path, "running", owner=me)
    orphans = [
        _process_naming("-f", f"{stale}/run/connection.json"),  # the kernel
        _process_naming("--bind", str(stale / "run"), str(stale / "run")),  # its bubblewrap
        _process_naming("--chdir", str(stale)),
    ]
    keep = [
        _process_naming("-f", f"{running}/run/connection.json"),  # a live grader's kernel
        _process_naming(f"{stale}-other/run"),  # another folder whose name starts the same
        _process_naming(f"{stale}x"),
    ]
    try:
        assert sweep_stale_folders(str(tmp_path)) == [str(stale)]
        for proc in orphans:
            assert proc.wait(timeout=10) == -9
        time.sleep(0.2)
        assert [proc.poll() for proc in keep] == [None, None, None]
        assert running.is_dir() and not stale.exists()
    finally:
        for proc in orphans + keep:
            proc.kill()
            proc.wait()


def _running(pid: int) -> bool:
    """Whether ``pid`` runs (a killed child its parent has not reaped yet is a zombie: no)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_bytes().rsplit(b")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in (b"Z", b"X")


@pytest.mark.skipif(not sandbox_available(), reason="bubblewrap is not installed")
def test_a_real_sandbox_whose_owner_is_gone_is_killed_by_the_sweep(monkeypatch, short_tmp):
    monkeypatch.setattr(kernels.tempfile, "tempdir", str(short_tmp))
    kernel = Kernel(KernelSettings("python3", Limits(), ("--HistoryManager.hist_file=:memory:",),
                                   ()))
    try:
        deadline = time.monotonic() + 60
        while not list(Path(kernel.root).glob("run/kernel-*")):  # the kernel listens
            assert time.monotonic() < deadline, "the kernel did not start"
            time.sleep(0.05)
        path = os.fsencode(str(kernel.root))
        sandbox = [pid for pid, line in kernels._command_lines().items()
                   if path + b"/" in line]
        assert len(sandbox) >= 2, "bubblewrap and the kernel name the folder"
        # As if the grader had died before bubblewrap armed --die-with-parent.
        (Path(kernel.root) / OWNER_FILE).write_text(f"{_ended_pid()} 12345")
        assert sweep_stale_folders(str(short_tmp)) == [str(kernel.root)]
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and any(_running(pid) for pid in sandbox):
            time.sleep(0.05)
        assert not [pid for pid in sandbox if _running(pid)]
    finally:
        kernel.discard()
