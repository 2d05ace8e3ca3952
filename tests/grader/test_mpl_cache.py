"""matplotlib's font list: built once per machine by the grader, read-only in every sandbox."""

from __future__ import annotations

import json

import pytest
from jupyter_client.blocking import BlockingKernelClient

from grader import mpl_cache
from grader.kernels import Kernel, KernelSettings
from grader.sandbox import Limits, sandbox_available, wrap_kernel_command

pytestmark = pytest.mark.grader


@pytest.fixture
def fresh_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(mpl_cache, "_found", {})
    return tmp_path / "cache" / "i2dl-grader"


def test_the_list_is_built_once_and_then_found(fresh_cache, monkeypatch):
    built = mpl_cache.font_list()
    assert built is not None and built.parent.parent == fresh_cache
    assert built.name.startswith("fontlist-v") and built.suffix == ".json"
    fonts = json.loads(built.read_text())
    assert fonts["ttflist"], "the list names the fonts matplotlib found"
    assert [p.name for p in built.parent.iterdir()] == [built.name]  # no lock files left
    assert not [p for p in fresh_cache.iterdir() if p.name.startswith(".build-")]
    assert oct(built.stat().st_mode & 0o777) == "0o644"
    # Another grading process finds it without building again.
    monkeypatch.setattr(mpl_cache, "_found", {})
    monkeypatch.setattr(mpl_cache, "_build", lambda folder: pytest.fail("built twice"))
    assert mpl_cache.font_list() == built


def test_without_a_writable_cache_folder_kernels_build_their_own(monkeypatch, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    monkeypatch.setattr(mpl_cache, "_found", {})
    assert mpl_cache.font_list() is None
    cmd = wrap_kernel_command(["python"], tmp_path / "work", tmp_path / "run", Limits())
    assert not [arg for arg in cmd if "fontlist" in arg]


def test_without_a_home_folder_there_is_no_list_and_no_error(monkeypatch):
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setattr(mpl_cache, "_found", {})

    def no_home():
        raise RuntimeError("Could not determine home directory.")

    monkeypatch.setattr(mpl_cache.Path, "home", staticmethod(no_home))
    assert mpl_cache.font_list() is None


@pytest.mark.skipif(not sandbox_available(), reason="bubblewrap is not installed")
def test_a_sandboxed_kernel_reads_the_list_and_cannot_change_it(fresh_cache, tmp_path):
    built = mpl_cache.font_list()
    cmd = wrap_kernel_command(["python"], tmp_path / "work", tmp_path / "run", Limits())
    bind = cmd.index(str(built))
    assert cmd[bind - 1:bind + 2] == ["--ro-bind", str(built), f"/tmp/{built.name}"]

    kernel = Kernel(KernelSettings("python3", Limits(), ("--HistoryManager.hist_file=:memory:",),
                                   ()))
    client = BlockingKernelClient()
    client.load_connection_info(kernel.km.get_connection_info(session=False))
    client.start_channels(hb=False)
    try:
        client.wait_for_ready(timeout=60)
        printed: list[str] = []

        def hook(msg):
            if msg["msg_type"] == "stream":
                printed.append(msg["content"]["text"])

        code = (
            "import logging, os\n"
            "logging.basicConfig(level=logging.DEBUG, format='%(message)s',"
            " handlers=[logging.StreamHandler(__import__('sys').stdout)])\n"
            "import matplotlib.font_manager as fm\n"
            f"path = '/tmp/{built.name}'\n"
            "try:\n"
            "    open(path, 'a').close()\n"
            "    print('WRITABLE')\n"
            "except OSError as exc:\n"
            "    print('read-only:', type(exc).__name__)\n"
            "print('fonts:', len(fm.fontManager.ttflist))\n"
        )
        reply = client.execute_interactive(code, timeout=120, output_hook=hook)
        assert reply["content"]["status"] == "ok", reply["content"]
    finally:
        client.stop_channels()
        kernel.discard()
    text = "".join(printed)
    assert f"Using fontManager instance from /tmp/{built.name}" in text, text
    assert "generated new fontManager" not in text
    assert "read-only:" in text and "WRITABLE" not in text
    expected = len(json.loads(built.read_text())["ttflist"])
    assert f"fonts: {expected}" in text
