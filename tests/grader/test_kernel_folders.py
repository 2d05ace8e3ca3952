"""Kernel folders left by killed grading processes are removed by the next one; others stay."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from grader import kernels
from grader.kernels import FOLDER_PREFIX, OWNER_FILE, sweep_stale_folders

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
