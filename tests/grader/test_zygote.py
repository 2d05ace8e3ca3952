"""Kernels forked from a preloaded process (grader.zygote) into bubblewrap's sandboxes.

The hostile suites (test_hostile*.py) grade through forked kernels wherever the zygote is
available, as every grading run does; these tests check what is particular to forking: the
kernel's privileges, processes, environment and limits, that it lives and dies with its sandbox,
that the zygote refuses a process tree that is not a sandbox, and that grading falls back to
plain kernels when the zygote fails.
"""

from __future__ import annotations

import ast
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from jupyter_core.utils import run_sync

from grader import kernels, zygote
from grader.kernels import SANDBOX_WORKDIR, KernelPool, KernelSettings
from grader.sandbox import Limits, kernel_uid, sandbox_env
from tests.grader.conftest import EX, NB, REPO, read_grades, run_cli

pytestmark = [
    pytest.mark.grader,
    pytest.mark.skipif(not zygote.available(), reason="needs root and bubblewrap"),
]

LIMITS = Limits(memory_bytes=3 * 1024**3, cpu_seconds=77, processes=50, open_files=200)
SETTINGS = KernelSettings("python3", LIMITS, ("--HistoryManager.hist_file=:memory:",))


@pytest.fixture
def pool():
    pool = KernelPool()
    pool.want_spare = False
    yield pool
    pool.close()


class Running:
    """A kernel taken from a pool, with a client that runs code and returns what it printed."""

    def __init__(self, pool: KernelPool, settings: KernelSettings = SETTINGS) -> None:
        self.kernel = pool.take(settings)
        self.kernel.confirm_started(30)
        self.client = self.kernel.km.client()
        self.client.start_channels()
        run_sync(self.client.wait_for_ready)(timeout=60)

    def run(self, code: str) -> str:
        printed: list[str] = []

        def hook(msg):
            if msg["msg_type"] == "stream":
                printed.append(msg["content"]["text"])
            elif msg["msg_type"] == "error":
                printed.append("ERROR " + msg["content"]["ename"] + ": " + msg["content"]["evalue"])

        run_sync(self.client.execute_interactive)(code, timeout=60, output_hook=hook)
        return "".join(printed)

    def value(self, expression: str):
        return ast.literal_eval(self.run(f"print(repr({expression}))").strip())

    def close(self) -> None:
        self.client.stop_channels()
        self.kernel.discard()


def _uid_processes(uid: int) -> list[int]:
    pids = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                if os.stat(f"/proc/{name}").st_uid == uid:
                    pids.append(int(name))
            except OSError:
                continue
    return pids


def test_a_forked_kernel_runs_unprivileged_alone_in_its_sandbox(pool):
    running = Running(pool)
    try:
        kernel = running.kernel
        assert kernel.forked
        status = dict(
            line.split(":", 1) for line in running.value("open('/proc/self/status').read()")
            .splitlines()
        )
        assert status["Uid"].split() == [str(kernel.uid)] * 4
        assert status["Gid"].split() == [str(kernel.uid)] * 4
        assert status["Groups"].strip() == ""
        for capabilities in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"):
            assert int(status[capabilities], 16) == 0, capabilities
        assert status["NoNewPrivs"].strip() == "1"
        # Its own PID namespace: bubblewrap's init, the placeholder and the kernel, nothing else.
        assert running.value("sorted(int(p) for p in __import__('os').listdir('/proc') "
                             "if p.isdigit())") == [1, 2, 3]
        assert running.value("open('/proc/2/cmdline').read().split(chr(0))[0]") == "cat"
        assert running.value("__import__('os').getcwd()") == str(SANDBOX_WORKDIR)
        env = running.value("dict(__import__('os').environ)")
        # ipykernel adds its own display variables; nothing of the grader's or the zygote's
        assert {k: env[k] for k in sandbox_env(SANDBOX_WORKDIR)} == sandbox_env(SANDBOX_WORKDIR)
        assert not set(env) - set(sandbox_env(SANDBOX_WORKDIR)) - {
            "TERM", "CLICOLOR", "FORCE_COLOR", "CLICOLOR_FORCE", "PAGER", "GIT_PAGER",
            "MPLBACKEND"}
        assert running.value("__import__('sys').path[0]") == str(SANDBOX_WORKDIR)
        mine = os.umask(0o022)
        os.umask(mine)
        assert running.value("__import__('os').umask(0o022)") == mine  # the grader's, as plain
        limits = running.value(
            "[__import__('resource').getrlimit(getattr(__import__('resource'), n)) for n in "
            "('RLIMIT_AS', 'RLIMIT_CPU', 'RLIMIT_NPROC', 'RLIMIT_FSIZE', 'RLIMIT_NOFILE')]")
        assert limits == [(v, v) for v in (LIMITS.memory_bytes, LIMITS.cpu_seconds,
                                           LIMITS.processes, LIMITS.file_bytes,
                                           LIMITS.open_files)]
        # The grader's files are not there; the kernel cannot write outside its tmpfs.
        assert running.value(f"__import__('os').path.exists({str(REPO.solutions)!r})") is False
        assert "ERROR" in running.run("open('/usr/x', 'w')")
        # Nothing of the zygote's: its control socket and stderr are closed, its other
        # descriptors too (what is open is ipykernel's, the doorbell and the lifeline).
        links = running.value(
            "[__import__('os').readlink('/proc/self/fd/' + f) for f in "
            "__import__('os').listdir('/proc/self/fd') "
            "if __import__('os').path.exists('/proc/self/fd/' + f)]")
        assert sum("lifeline" in link for link in links) == 1
        assert not [link for link in links if link.startswith("/") and "lifeline" not in link
                    and link != "/dev/null" and not link.startswith("/proc/")]
    finally:
        running.close()


@pytest.mark.parametrize("preload", [(), ("torch", "torch._dynamo")])
def test_kernels_of_one_zygote_draw_their_own_random_numbers(pool, preload):
    settings = KernelSettings(SETTINGS.kernel_name, LIMITS, SETTINGS.extra_arguments,
                              preload=preload)
    first, second = Running(pool, settings), Running(pool, settings)
    try:
        code = "__import__('numpy').random.rand(3).tolist() + [__import__('random').random()]"
        a, b = first.value(code), second.value(code)
        assert a[:3] != b[:3] and a[3] != b[3]
        assert first.kernel.km.zygote is second.kernel.km.zygote
    finally:
        first.close()
        second.close()


def test_a_forked_kernel_that_exits_ends_its_sandbox(pool):
    running = Running(pool)
    try:
        kernel = running.kernel
        running.client.execute("import os; os._exit(3)")
        deadline = time.monotonic() + 10
        while kernel.alive() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert not kernel.alive()
        deadline = time.monotonic() + 10
        while _uid_processes(kernel.uid) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert _uid_processes(kernel.uid) == []
    finally:
        running.close()


def test_discarding_a_forked_kernel_ends_every_process_of_its_sandbox(pool):
    running = Running(pool)
    uid = running.kernel.uid
    # a child process of the student's, still running when the kernel is discarded
    running.run("import subprocess; p = subprocess.Popen(['sleep', '600'])")
    assert len(_uid_processes(uid)) >= 3  # placeholder, kernel, sleep
    running.close()
    deadline = time.monotonic() + 10
    while _uid_processes(uid) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert _uid_processes(uid) == []


def test_a_zygote_that_was_killed_is_started_again(pool):
    first = Running(pool)
    first.close()
    killed = pool.zygote
    killed.process.kill()
    killed.process.wait()
    second = Running(pool)
    try:
        assert second.kernel.forked and pool.zygote is not killed and pool.zygote.alive()
        assert pool.zygote_failure is None
        assert second.value("6 * 7") == 42
    finally:
        second.close()


def test_a_stuck_zygote_costs_a_bounded_wait_then_kernels_start_the_plain_way(pool, monkeypatch):
    monkeypatch.setattr(zygote, "SPAWN_REPLY_SECONDS", 1.0)
    first = Running(pool)
    first.close()
    stuck = pool.zygote
    os.kill(stuck.process.pid, signal.SIGSTOP)
    try:
        second = Running(pool)
        try:
            assert not second.kernel.forked
            assert "timed out" in pool.zygote_failure
            assert second.value("6 * 7") == 42
        finally:
            second.close()
    finally:
        os.kill(stuck.process.pid, signal.SIGCONT)


def test_the_zygote_refuses_a_process_tree_that_is_not_a_sandbox(tmp_path):
    """Three processes like bubblewrap's (outer, init, command as the kernel's user), but in
    the grader's own namespaces: the kernel must not start there."""
    uid = kernel_uid()
    fifo = tmp_path / "lifeline"
    os.mkfifo(fifo)
    inner = f"setpriv --reuid={uid} --regid={uid} --clear-groups sleep 60; true"
    outer = subprocess.Popen(["sh", "-c", f"sh -c '{inner}'; true"])
    theirs, ours = os.pipe()
    z = zygote.Zygote((), sandbox_env(Path("/nonexistent")))
    try:
        request = {
            "sandbox_pid": outer.pid, "uid": uid, "workdir": "/", "lifeline": str(fifo),
            "argv": ["-f", str(tmp_path / "c.json")], "env": {}, "limits": {},
            "doorbell_fd": 9,
        }
        report = zygote.read_report(z.spawn(request, [theirs]), 30)
        assert "shares the grader's" in report
        assert z.alive()
    finally:
        z.close()
        os.close(theirs)
        os.close(ours)
        outer.kill()
        outer.wait()
        subprocess.run(["pkill", "-KILL", "-u", str(uid)], check=False)


def test_the_zygote_preloads_only_libraries_it_knows():
    with pytest.raises(zygote.ZygoteError, match="cannot preload"):
        zygote.Zygote(("os",), sandbox_env(Path("/nonexistent")))


def test_a_zygote_whose_preload_fails_says_why(monkeypatch):
    monkeypatch.setattr(zygote, "ALLOWED_PRELOAD", frozenset({"no_such_module_for_i2dl"}))
    with pytest.raises(zygote.ZygoteError, match="No module named 'no_such_module_for_i2dl'"):
        zygote.Zygote(("no_such_module_for_i2dl",), sandbox_env(Path("/nonexistent")))


def test_torch_and_matplotlib_are_preloaded_for_the_exercises_that_import_them():
    def preload(exercise):
        return zygote.exercise_preload(REPO.solutions / exercise / f"{exercise}.ipynb")

    assert preload(EX) == ()  # ex03 imports neither
    assert preload("ex01_linear_regression") == ("matplotlib.pyplot",)
    assert preload("ex08_cnn_layers") == ("torch", "torch._dynamo")
    assert preload("ex09_pytorch") == ("torch", "torch._dynamo", "matplotlib.pyplot")
    assert zygote.exercise_preload(None) == ()


# What matplotlib decided when it was imported, and what it draws.
MATPLOTLIB_STATE = """(
    __import__('matplotlib').get_backend(), __import__('matplotlib').get_configdir(),
    __import__('matplotlib').get_cachedir(), __import__('matplotlib').is_interactive(),
    sorted((k, repr(v)) for k, v in __import__('matplotlib').rcParams.items()),
    sorted(f.fname for f in __import__('matplotlib.font_manager').font_manager.fontManager.ttflist),
    [f for f in __import__('os').listdir('/tmp') if not f.startswith('i2dl-kernel-')],
)"""


def _displayed(running: Running, code: str) -> list[str]:
    """The MIME types of what ``code`` displays (matplotlib's inline figures among them)."""
    shown: list[str] = []

    def hook(msg):
        if msg["msg_type"] in ("display_data", "execute_result"):
            shown.extend(sorted(msg["content"]["data"]))
        elif msg["msg_type"] == "error":
            shown.append("ERROR " + msg["content"]["evalue"])

    run_sync(running.client.execute_interactive)(code, timeout=60, output_hook=hook)
    return shown


def test_a_kernel_finds_preloaded_matplotlib_as_its_own_import_would_leave_it(pool):
    settings = KernelSettings(SETTINGS.kernel_name, LIMITS, SETTINGS.extra_arguments,
                              preload=("matplotlib.pyplot",))
    plain_pool = KernelPool()
    plain_pool.want_spare = False
    plain_pool.zygote_failure = "plain kernels for the comparison"
    forked, plain = Running(pool, settings), Running(plain_pool, settings)
    try:
        assert forked.kernel.forked and not plain.kernel.forked
        assert forked.value("'matplotlib.pyplot' in __import__('sys').modules") is True
        assert plain.value("'matplotlib' in __import__('sys').modules") is False
        plot = "import matplotlib.pyplot as plt\nplt.plot([1, 3, 2])\nplt.title('x')\nplt.show()"
        assert _displayed(forked, plot) == _displayed(plain, plot) == ["image/png", "text/plain"]
        state = forked.value(MATPLOTLIB_STATE)
        assert state == plain.value(MATPLOTLIB_STATE)
        assert state[:4] == ("module://matplotlib_inline.backend_inline", "/tmp", "/tmp", True)
    finally:
        forked.close()
        plain.close()
        plain_pool.close()


def test_a_zygote_keeps_what_matplotlib_writes_out_of_the_machines_tmp():
    import glob

    before = set(glob.glob("/tmp/fontlist-v*.json"))
    z = zygote.Zygote(("matplotlib.pyplot",), sandbox_env(Path("/nonexistent")), font_list=None)
    try:
        # Without a font list to start from, its matplotlib built one: in its own /tmp.
        assert glob.glob(f"/proc/{z.process.pid}/root/tmp/fontlist-v*.json")
        assert os.stat(f"/proc/{z.process.pid}/ns/mnt").st_ino != os.stat(
            "/proc/self/ns/mnt").st_ino
    finally:
        z.close()
    assert set(glob.glob("/tmp/fontlist-v*.json")) == before


def test_the_zygote_ends_with_the_grading_process_that_started_it():
    code = (
        "from pathlib import Path; from grader import zygote, sandbox\n"
        "z = zygote.Zygote((), sandbox.sandbox_env(Path('/nonexistent')))\n"
        "print(z.process.pid, flush=True)\n"
        "import time; time.sleep(600)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        pid = int(proc.stdout.readline())
        assert os.path.exists(f"/proc/{pid}")
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        deadline = time.monotonic() + 10
        while os.path.exists(f"/proc/{pid}") and time.monotonic() < deadline:
            time.sleep(0.02)
        assert not os.path.exists(f"/proc/{pid}")
    finally:
        proc.kill()
        proc.wait()
        proc.stdout.close()


def test_the_zygote_outlives_the_thread_that_started_it():
    """A Dask worker starts kernels from its pool's threads; the zygote must not end with one."""
    import threading

    started = []
    thread = threading.Thread(
        target=lambda: started.append(zygote.Zygote((), sandbox_env(Path("/nonexistent"))))
    )
    thread.start()
    thread.join()
    z = started[0]
    try:
        time.sleep(0.3)
        assert z.alive()
    finally:
        z.close()
    assert not z.alive()


@pytest.fixture(scope="module")
def small_class(tmp_path_factory):
    from grader.sample import student_version, write_notebook

    subs = tmp_path_factory.mktemp("small") / "submissions"
    for student, solved in {"full": None, "half": ["affine_forward", "relu"]}.items():
        write_notebook(student_version(REPO, EX, NB, solved), subs / student / EX / f"{NB}.ipynb")
    return subs


def test_forked_and_plain_kernels_grade_alike(small_class, tmp_path):
    for name, switch in (("forked", "1"), ("plain", "0")):
        proc = run_cli("autograde", str(small_class), "--out", str(tmp_path / name),
                       "--exercise", EX, "--workers", "1", env={"I2DL_ZYGOTE": switch})
        assert proc.returncode == 0, proc.stdout + proc.stderr
    assert read_grades(tmp_path / "forked") == read_grades(tmp_path / "plain")
    assert {s: g["score"] for s, g in read_grades(tmp_path / "plain").items()} == {
        "full": "100", "half": "20"}


@pytest.mark.parametrize("failure", ["spawn", "report", "start"])
def test_grading_goes_on_with_plain_kernels_when_the_zygote_fails(
    failure, small_class, tmp_path, monkeypatch
):
    """A zygote that cannot start, refuses a kernel, or whose kernel fails to set up costs the
    student nothing: the notebook is graded in a plain kernel, and so are the rest."""
    from grader.autograde import GradingOptions
    from grader.scheduler import autograde

    if failure == "spawn":
        def refuse(self, request, fds):
            raise zygote.ZygoteError("refused for the test")
        monkeypatch.setattr(zygote.Zygote, "spawn", refuse)
    elif failure == "report":
        monkeypatch.setattr(zygote, "read_report", lambda fd, timeout: os.close(fd) or "broken")
    else:
        def no_start(self, preload, env, timeout=120, font_list=None):
            raise zygote.ZygoteError("no zygote for the test")
        monkeypatch.setattr(zygote.Zygote, "__init__", no_start)
    fresh = KernelPool()
    monkeypatch.setattr(kernels, "POOL", fresh)
    import grader.execute

    monkeypatch.setattr(grader.execute, "POOL", fresh)
    try:
        results = autograde(REPO, small_class, tmp_path / "out", [EX],
                            GradingOptions(workers=1, progress=False))
    finally:
        fresh.close()
    assert {r.student: (r.score, r.status) for r in results} == {
        "full": (100, "ok"), "half": (20, "ok")}
    assert fresh.zygote_failure is not None


def test_a_hand_in_with_its_own_matplotlibrc_gets_a_kernel_that_reads_it(tmp_path):
    """matplotlib reads a matplotlibrc next to the notebook when it is imported; a zygote has
    imported it before, so that notebook is graded in a plain kernel, and only that one."""
    import json

    import nbformat

    from grader.sample import student_version, write_notebook

    exercise = "ex01_linear_regression"
    nb = student_version(REPO, exercise, exercise)
    nb.cells.append(nbformat.v4.new_code_cell(
        "import os, matplotlib.pyplot as plt\n"
        "print('CHECK', os.getppid(), plt.rcParams['lines.linewidth'])"))
    subs = tmp_path / "submissions"
    for student in ("a_own_rc", "b_default"):
        write_notebook(nb, subs / student / exercise / f"{exercise}.ipynb")
    (subs / "a_own_rc" / exercise / "matplotlibrc").write_text("lines.linewidth: 7.5\n")
    out = tmp_path / "out"
    proc = run_cli("autograde", str(subs), "--out", str(out), "--exercise", exercise,
                   "--workers", "1", "--no-progress")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    printed = {}
    for student in ("a_own_rc", "b_default"):
        graded = json.loads((out / "autograded" / student / exercise / f"{exercise}.ipynb")
                            .read_text())
        text = "".join("".join(o.get("text", "")) for o in graded["cells"][-1]["outputs"])
        printed[student] = text.split()[1:]
    # A plain kernel's parent is the sandbox's init (1); a forked kernel's is outside it (0).
    assert printed == {"a_own_rc": ["1", "7.5"], "b_default": ["0", "1.5"]}
    assert {s: g["score"] for s, g in read_grades(out).items()} == {
        "a_own_rc": "100", "b_default": "100"}


def test_a_zygote_whose_code_is_in_tmp_still_imports_it_after_taking_a_tmp_of_its_own(
    tmp_path, monkeypatch
):
    """A checkout and environment in /tmp (as CI clones them) stay importable once the zygote has
    mounted its own /tmp: the folders Python imports from are bound back into it. Here a Python
    environment in /tmp takes the libraries from this one's but the grader from a copy in /tmp."""
    import shutil
    import sysconfig
    import tempfile

    assert tmp_path.resolve().is_relative_to(Path(tempfile.gettempdir()).resolve())
    code = tmp_path / "code"
    for package in ("grader", "i2dl"):
        shutil.copytree(REPO.root / package, code / package,
                        ignore=shutil.ignore_patterns("__pycache__"))
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    purelib = subprocess.run([venv / "bin" / "python", "-c",
                              "import sysconfig; print(sysconfig.get_path('purelib'))"],
                             check=True, capture_output=True, text=True).stdout.strip()
    Path(purelib, "libraries.pth").write_text(sysconfig.get_path("purelib") + "\n")
    monkeypatch.setattr(sys, "executable", str(venv / "bin" / "python"))
    env = {**sandbox_env(Path("/nonexistent")), "PYTHONPATH": str(code)}
    z = zygote.Zygote(("matplotlib.pyplot",), env, font_list=None)
    try:
        root = Path(f"/proc/{z.process.pid}/root")
        assert (root / str(code).lstrip("/") / "grader" / "kernel_side.py").is_file()
        assert (root / str(venv).lstrip("/") / "pyvenv.cfg").is_file()
        assert sorted(p.name for p in (root / "tmp").iterdir() if p.name.startswith("fontlist"))
    finally:
        z.close()
