"""Kernels forked from a preloaded process into sandboxes bubblewrap has already built.

Starting a grading kernel the plain way runs a new interpreter inside a new sandbox, which then
imports ipykernel, numpy and, for the PyTorch exercises, torch: about 0.3 s of CPU per kernel
for a numpy exercise and about 3 s for a PyTorch one (``import torch`` 1.5 s, and
``torch._dynamo``, which every optimiser step imports, another 1.5 s). Every graded notebook
gets a fresh kernel, so this was most of the CPU of grading a PyTorch exercise.

Here one process per grading process (the *zygote*) imports all of that once (and
``matplotlib.pyplot``, which nine exercises import: 0.2 to 0.65 s of CPU per kernel) and then forks
a copy for each kernel. The sandbox itself is still bubblewrap's, built exactly as for a plain
kernel (:func:`grader.sandbox.wrap_kernel_command`): only the command inside is a placeholder,
``cat`` reading a named pipe (the *lifeline*). The forked copy joins that sandbox and becomes
the kernel:

1. it finds the placeholder (the grandchild of bubblewrap's outer process) and waits until it
   runs as the kernel's user, which it only does once bubblewrap has finished building the
   sandbox; it checks that the placeholder's mount, PID, network, IPC and UTS namespaces are
   not the zygote's own (a kernel never runs unsandboxed because of a mix-up);
2. it joins those namespaces (``setns``) and the placeholder's root folder, and forks once
   more, so that the kernel is a process of the sandbox's PID namespace (it sees only the
   sandbox's processes, and dies with the sandbox);
3. the kernel process opens the lifeline for writing, sets the same resource limits as
   ``prlimit``, drops every capability, switches to the kernel's user, sets
   ``no_new_privs``, takes the sandbox's environment and working folder, re-seeds numpy's
   global generator, and only then starts ipykernel.

When the kernel ends, however it ends, the lifeline loses its only writer, ``cat`` reads its
end and exits, and with it the sandbox: the grader sees the kernel die exactly as it sees a
plain one die, and killing bubblewrap kills the kernel.

Trust: the zygote runs as root outside any sandbox, but no code of a student ever runs in it.
It talks only over a socket pair to the grading process that started it; each fork closes its
end before anything else. What a kernel inherits from it is the state of freshly imported
libraries: nothing of the grader's, of solutions, of other students. Student code runs only
after the switch to the unprivileged user, with no capabilities left (bounding set included).

matplotlib reads its settings and font list when it is imported, from the folder the sandbox's
environment names (``MPLCONFIGDIR=/tmp``), and remembers that folder. A zygote that preloads it
first gives itself a /tmp of its own (a private mount namespace and tmpfs) holding what a
sandbox's /tmp holds: matplotlib's font list (:mod:`grader.mpl_cache`) and, bound back as the
sandbox binds them, the folders Python imports from where they are in /tmp (a checkout cloned
there). It also sets ``MPLBACKEND`` as ipykernel sets it in every kernel; a kernel then finds
matplotlib with the same settings, fonts, folders and backend as its own import would have left
it. matplotlib also reads a ``matplotlibrc`` in the working folder: a notebook handed in with one
is graded in a plain kernel (:meth:`grader.execute.SandboxedExecute._reads_own_matplotlibrc`).

Differences from a plain kernel that a student could observe: the preloaded modules are already
in ``sys.modules``; ``hash()`` of a string is the same in every kernel forked from one zygote
(``PYTHONHASHSEED`` is chosen once per interpreter); the kernel's parent is the zygote, outside
the sandbox, so ``os.getppid()`` gives 0 instead of 1; the capability bounding set is empty.
Python's ``random`` and numpy's global generator
are re-seeded in each kernel; torch's default generator starts from its fixed default seed, as in
a fresh interpreter.

The zygote needs root (joining namespaces takes ``CAP_SYS_ADMIN``), bubblewrap and Linux; without
them kernels start the plain way (:func:`available`). ``I2DL_ZYGOTE=0`` turns it off.
"""

from __future__ import annotations

import array
import contextlib
import ctypes
import errno
import gc
import json
import os
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# Namespaces a kernel joins, in the order it joins them: the mount namespace last, since the
# others are opened through /proc paths of the host.
NAMESPACES = ("ipc", "uts", "net", "cgroup", "pid", "mnt")
# These must differ from the zygote's own: bubblewrap always makes new ones (the cgroup
# namespace only where the kernel supports it, so it is joined but not required to differ).
REQUIRED_NEW = ("ipc", "uts", "net", "pid", "mnt")
CLONE_FLAGS = {
    "mnt": 0x00020000,
    "cgroup": 0x02000000,
    "uts": 0x04000000,
    "ipc": 0x08000000,
    "pid": 0x20000000,
    "net": 0x40000000,
}
PR_SET_DUMPABLE = 4
PR_CAPBSET_DROP = 24
PR_SET_CHILD_SUBREAPER = 36
PR_SET_NO_NEW_PRIVS = 38
PR_CAP_AMBIENT = 47
PR_CAP_AMBIENT_CLEAR_ALL = 4

# Modules every kernel imports; the exercise's own (numpy, torch) are added by the caller.
BASE_PRELOAD = ("grader.kernel_side",)
# What a caller may ask the zygote to preload: libraries whose import reads no data file an
# exercise could mask (data masks bind over data files inside the sandbox; the zygote sees the
# real ones). matplotlib reads its own settings and fonts, which no exercise masks.
ALLOWED_PRELOAD = frozenset(
    {"numpy", "torch", "torch._dynamo", "torch.optim", "matplotlib", "matplotlib.pyplot"}
)
# Preloaded in a /tmp of the zygote's own (see the module's docstring).
MATPLOTLIB = ("matplotlib", "matplotlib.pyplot")
INLINE_BACKEND = "module://matplotlib_inline.backend_inline"  # what ipykernel sets MPLBACKEND to
CLONE_NEWNS = 0x00020000
MS_NOSUID, MS_NODEV, MS_BIND, MS_REC, MS_PRIVATE = 0x2, 0x4, 0x1000, 0x4000, 0x40000
# How long a kernel waits for its sandbox to be built before it gives up.
SANDBOX_WAIT_SECONDS = 30.0
# How long the grading process waits for the zygote to answer a request.
SPAWN_REPLY_SECONDS = 60.0
MAX_MESSAGE = 1 << 16


def exercise_preload(source: Path | None) -> tuple[str, ...]:
    """What a zygote should preload for the exercise whose source notebook is ``source``:
    torch (with ``torch._dynamo``, which every optimiser step imports) where its code imports
    torch, ``matplotlib.pyplot`` where it imports matplotlib; numpy is always loaded
    (:data:`BASE_PRELOAD` imports it)."""
    if source is None:
        return ()
    try:
        stat = source.stat()
    except OSError:
        return ()
    key = (str(source), stat.st_mtime_ns, stat.st_size)
    if key not in _preload_cache:
        import re

        import nbformat

        code = "\n".join(
            cell.source
            for cell in nbformat.read(source, as_version=4).cells
            if cell.cell_type == "code"
        )
        def imports(module: str) -> bool:
            pattern = rf"^\s*(import|from)\s+{module}\b"
            return re.search(pattern, code, re.MULTILINE) is not None

        _preload_cache[key] = (
            *(("torch", "torch._dynamo") if imports("torch") else ()),
            *(("matplotlib.pyplot",) if imports("matplotlib") else ()),
        )
    return _preload_cache[key]


_preload_cache: dict[tuple, tuple[str, ...]] = {}


class ZygoteError(RuntimeError):
    """The zygote could not start, or could not start a kernel."""


def available() -> bool:
    """Whether kernels can be forked from a zygote here."""
    from grader.sandbox import can_drop_privileges, sandbox_available

    return (
        os.environ.get("I2DL_ZYGOTE", "1") != "0"
        and sys.platform.startswith("linux")
        and sandbox_available()
        and can_drop_privileges()
        and hasattr(os, "fork")
        and os.path.exists("/proc/self/ns/mnt")
    )


# --- the grading process's side ---------------------------------------------------------------


class Zygote:
    """A running zygote process, owned by one grading process."""

    def __init__(
        self,
        preload: tuple[str, ...],
        env: dict[str, str],
        timeout: float = 120,
        font_list: Path | None = None,
    ):
        """``font_list``: matplotlib's, as the sandbox binds it at ``/tmp`` (only used where
        matplotlib is preloaded; without one, the zygote's matplotlib builds its own)."""
        unknown = sorted(set(preload) - ALLOWED_PRELOAD)
        if unknown:
            raise ZygoteError(f"cannot preload {unknown}: allowed are {sorted(ALLOWED_PRELOAD)}")
        self.preload = tuple(preload)
        self.pid_owner = os.getpid()
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.sock = ours
        command = [sys.executable, "-m", "grader.zygote", str(theirs.fileno())]
        if font_list is not None and set(self.preload) & set(MATPLOTLIB):
            command += ["--font-list", str(font_list)]
        command += self.preload
        # What the zygote writes (a traceback if a preload fails) goes to a file, not a pipe
        # nobody reads while it runs, which would stop it once full.
        self.stderr = tempfile.TemporaryFile()
        try:
            self.process = subprocess.Popen(
                command,
                env=env,
                cwd="/",
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=self.stderr,
                pass_fds=(theirs.fileno(),),
                start_new_session=True,
            )
        finally:
            theirs.close()
        self.sock.settimeout(timeout)
        try:
            reply = self.sock.recv(MAX_MESSAGE)
        except (OSError, TimeoutError) as exc:
            self.close()
            raise ZygoteError(f"the zygote did not start: {exc}") from exc
        if reply != b"ready":
            error = self._stderr()
            self.close()
            raise ZygoteError(f"the zygote did not start: {reply[:200]!r} {error}")
        # It answers a request as soon as it has forked; a zygote that does not is stuck.
        self.sock.settimeout(SPAWN_REPLY_SECONDS)

    def _stderr(self) -> str:
        with contextlib.suppress(Exception):
            self.process.kill()
            self.process.wait(timeout=5)
            self.stderr.seek(0)
            return self.stderr.read().decode(errors="replace")[-2000:]
        return ""

    def alive(self) -> bool:
        return self.process.poll() is None

    def spawn(self, request: dict, fds: list[int]) -> int:
        """Start a kernel in the sandbox of bubblewrap process ``request["sandbox_pid"]``.

        Returns a file descriptor (ours to close) that yields ``ok`` once the kernel's process
        is set up and about to start ipykernel, or the reason it failed, then end of file.
        """
        payload = json.dumps(request).encode()
        ancillary = [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", fds).tobytes())]
        try:
            self.sock.sendmsg([payload], ancillary)
            reply, extra, _flags, _addr = self.sock.recvmsg(
                MAX_MESSAGE, socket.CMSG_SPACE(array.array("i").itemsize)
            )
        except OSError as exc:
            raise ZygoteError(f"the zygote is gone: {exc}") from exc
        received = _fds_from(extra)
        if reply != b"started" or len(received) != 1:
            for fd in received:
                os.close(fd)
            raise ZygoteError(f"the zygote refused: {reply[:500].decode(errors='replace')}")
        return received[0]

    def close(self) -> None:
        if os.getpid() != self.pid_owner:
            return  # a forked copy of the grading process does not own it
        with contextlib.suppress(OSError):
            self.sock.close()
        with contextlib.suppress(OSError, subprocess.TimeoutExpired):
            if self.process.poll() is None:
                self.process.kill()
            self.process.wait(timeout=10)
        self.stderr.close()


def read_report(fd: int, timeout: float) -> str:
    """What a spawned kernel reported through ``fd`` ("ok" or why it failed); closes ``fd``."""
    import select

    chunks = []
    deadline = time.monotonic() + timeout
    waiting = select.poll()  # (not select.select: descriptors may be numbered above 1023)
    waiting.register(fd, select.POLLIN)
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return "".join(chunks) or f"no report in {timeout:.0f} s"
            if not waiting.poll(left * 1000):
                continue
            chunk = os.read(fd, 4096)
            if not chunk:
                break
            chunks.append(chunk.decode(errors="replace"))
    finally:
        os.close(fd)
    return "".join(chunks) or "the kernel's process ended before it was set up"


def _fds_from(ancillary) -> list[int]:
    fds = array.array("i")
    for level, kind, data in ancillary:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            usable = len(data) - len(data) % fds.itemsize
            fds.frombytes(data[:usable])
    return list(fds)


# --- the zygote ---------------------------------------------------------------------------------

_libc = None


def _c():
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
        _libc.prctl.argtypes = [ctypes.c_int] + [ctypes.c_ulong] * 4
        _libc.setns.argtypes = [ctypes.c_int, ctypes.c_int]
    return _libc


def _check(result: int, what: str) -> None:
    if result != 0:
        code = ctypes.get_errno()
        raise OSError(code, f"{what}: {os.strerror(code)}")


def _prctl(option: int, arg: int = 0, arg3: int = 0) -> None:
    _check(_c().prctl(option, arg, arg3, 0, 0), f"prctl({option})")


def _private_tmp(font_list: str | None) -> bool:
    """Give this process a /tmp of its own, as a sandbox's: empty but for matplotlib's font list
    and the folders Python imports from, where they are in /tmp (bound back, as the sandbox binds
    them). Returns False, changing nothing, where that cannot be done.

    matplotlib, told by the sandbox's environment to keep its files in /tmp, reads its settings
    and font list there when it is imported, and remembers the folder; the kernels, which run in
    sandboxes, find the same folder holding the same files. Nothing written here reaches the
    machine's /tmp (the mount is private to this process's own mount namespace).
    """
    keep = _import_roots_in_tmp()
    if keep is None:
        return False
    fonts = Path(font_list).read_bytes() if font_list else None  # (it may itself be in /tmp)
    libc = _c()
    libc.mount.argtypes = [ctypes.c_char_p] * 3 + [ctypes.c_ulong, ctypes.c_char_p]
    libc.unshare.argtypes = [ctypes.c_int]
    _check(libc.unshare(CLONE_NEWNS), "unshare(CLONE_NEWNS)")
    _check(libc.mount(None, b"/", None, MS_REC | MS_PRIVATE, None), "mount --make-rprivate /")
    old = os.open("/tmp", os.O_PATH | os.O_DIRECTORY)  # the machine's /tmp, to bind from
    try:
        options = b"mode=1777,size=67108864"
        _check(libc.mount(b"tmpfs", b"/tmp", b"tmpfs", MS_NOSUID | MS_NODEV, options), "mount /tmp")
        for folder in keep:
            source = f"/proc/self/fd/{old}/{os.path.relpath(folder, '/tmp')}"
            os.makedirs(folder, mode=0o755, exist_ok=True)
            _check(libc.mount(source.encode(), folder.encode(), None, MS_BIND | MS_REC, None),
                   f"mount --rbind {folder}")
    finally:
        os.close(old)
    if fonts is not None:
        (Path("/tmp") / Path(font_list).name).write_bytes(fonts)
    return True


def _import_roots_in_tmp() -> list[str] | None:
    """The folders in /tmp that this Python imports from (its installation, its environment,
    its path, the course's packages), outermost only; None if /tmp itself is one of them."""
    import importlib.util

    candidates = {sys.prefix, sys.base_prefix, *(p for p in sys.path if p)}
    for name in ("grader", "i2dl"):
        spec = importlib.util.find_spec(name)
        candidates.update(spec.submodule_search_locations or () if spec else ())
    tmp = os.path.realpath("/tmp")
    inside: set[str] = set()
    for path in candidates:
        for form in (os.path.abspath(path), os.path.realpath(path)):
            if form == tmp or form == "/tmp":
                return None
            for base in {tmp, "/tmp"}:
                if form.startswith(base + "/") and os.path.isdir(form):
                    inside.add("/tmp" + form[len(base):])
    outermost: list[str] = []
    for folder in sorted(inside):
        if not any(folder.startswith(kept + "/") for kept in outermost):
            outermost.append(folder)
    return outermost


def _preload(modules: list[str]) -> None:
    # As grader.kernel_launch: ipykernel without its debugger (debugpy blocked while it loads).
    blocked = "debugpy" not in sys.modules
    if blocked:
        sys.modules["debugpy"] = None  # type: ignore[assignment]
    try:
        from ipykernel import debugger, kernelapp  # noqa: F401
    finally:
        if blocked and sys.modules.get("debugpy", 0) is None:
            del sys.modules["debugpy"]
    import importlib

    for name in (*BASE_PRELOAD, *modules):
        importlib.import_module(name)


def _threads() -> int:
    return len(os.listdir("/proc/self/task"))


def main(argv: list[str]) -> None:
    """The zygote: preload, say ``ready``, then start a kernel per request until end of file."""
    # The zygote ends when every copy of the grading process's end of the socket pair is closed,
    # also when that process is killed (no PR_SET_PDEATHSIG: it would fire when the *thread*
    # that started the zygote ends, e.g. one of a Dask worker's threads).
    control = socket.socket(fileno=int(argv[0]))
    modules, font_list = argv[1:], None
    if modules[:1] == ["--font-list"]:
        font_list, modules = modules[1], modules[2:]
    if set(modules) & set(MATPLOTLIB):
        if _private_tmp(font_list):
            os.environ["MPLBACKEND"] = INLINE_BACKEND
        else:  # kernels import it themselves
            modules = [m for m in modules if m not in MATPLOTLIB]
    _preload(modules)
    os.environ.pop("MPLBACKEND", None)  # (each kernel takes the sandbox's environment)
    if _threads() != 1:
        # fork() copies only the calling thread: a library that started threads could leave the
        # kernel with locks nobody releases.
        control.send(f"the preloaded modules started {_threads() - 1} threads".encode())
        return
    gc.collect()
    gc.freeze()  # the preloaded objects are not scanned (nor their pages copied) in kernels
    # A kernel is orphaned as soon as it is forked (the process that joined the sandbox ends):
    # it becomes the zygote's child, not the init's of the machine (which, in a container, may
    # never reap it). Children are reaped by the system (SIGCHLD ignored); each kernel resets
    # this before it starts.
    _prctl(PR_SET_CHILD_SUBREAPER, 1)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    control.send(b"ready")
    while True:
        try:
            message, ancillary, _flags, _addr = control.recvmsg(
                MAX_MESSAGE, socket.CMSG_SPACE(8 * array.array("i").itemsize)
            )
        except InterruptedError:
            continue
        fds = _fds_from(ancillary)
        if not message:
            os._exit(0)  # the grading process closed its end
        try:
            request = json.loads(message)
            _validate(request, fds)
        except (ValueError, TypeError, KeyError) as exc:
            for fd in fds:
                os.close(fd)
            control.send(f"bad request: {exc}".encode())
            continue
        report_read, report_write = os.pipe()
        pid = os.fork()
        if pid == 0:  # pragma: no cover  (runs in the forked process; tested end to end)
            try:
                os.close(report_read)
                control.close()
                _join_sandbox(request, fds, report_write)
            except BaseException as exc:  # noqa: BLE001  (reported, then this process ends)
                with contextlib.suppress(OSError):
                    os.write(report_write, f"{type(exc).__name__}: {exc}".encode()[:4000])
            os._exit(1)
        os.close(report_write)
        for fd in fds:
            os.close(fd)
        try:
            control.sendmsg(
                [b"started"],
                [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [report_read]).tobytes())],
            )
        finally:
            os.close(report_read)


def _validate(request: dict, fds: list[int]) -> None:
    for key, kind in (
        ("sandbox_pid", int),
        ("uid", int),
        ("workdir", str),
        ("lifeline", str),
        ("argv", list),
        ("env", dict),
        ("limits", dict),
        ("doorbell_fd", int),
    ):
        if not isinstance(request[key], kind):
            raise TypeError(f"{key} must be {kind.__name__}")
    if len(fds) != 1:
        raise ValueError(f"expected 1 file descriptor (the doorbell), got {len(fds)}")
    if request["uid"] <= 0 or request["sandbox_pid"] <= 1 or not 2 < request["doorbell_fd"] < 1024:
        raise ValueError("bad uid, sandbox pid or doorbell descriptor")


def proc_stat(pid: int) -> list[bytes] | None:
    """The fields of ``/proc/<pid>/stat`` after the command name (the state first, then the
    parent's pid...), or None if the process is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            return fh.read().rsplit(b")", 1)[1].split()
    except (OSError, IndexError):
        return None


def _children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children", encoding="ascii") as fh:
            return [int(child) for child in fh.read().split()]
    except FileNotFoundError:  # a kernel without CONFIG_PROC_CHILDREN: scan parents instead
        children = []
        for name in os.listdir("/proc"):
            if name.isdigit():
                fields = proc_stat(int(name))
                if fields is not None and fields[1] == str(pid).encode():
                    children.append(int(name))
        return children


def _uid_of(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as fh:
            for line in fh:
                if line.startswith("Uid:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def _placeholder(sandbox_pid: int, uid: int) -> int:
    """The sandbox's placeholder process, once it runs as the kernel's user.

    bubblewrap's outer process (``sandbox_pid``) has one child, the sandbox's init, whose one
    child runs the command. That runs as the kernel's user only after bubblewrap has built the
    sandbox and ``setpriv`` has switched users.
    """
    deadline = time.monotonic() + SANDBOX_WAIT_SECONDS
    wait = 0.0005
    while True:
        for init in _children(sandbox_pid):
            for command in _children(init):
                if _uid_of(command) == uid:
                    return command
        if time.monotonic() > deadline:
            raise ZygoteError(f"the sandbox of process {sandbox_pid} was not ready in time")
        if _ended(sandbox_pid):
            raise ZygoteError(f"the sandbox of process {sandbox_pid} ended before it was joined")
        time.sleep(wait)
        wait = min(2 * wait, 0.01)


def _ended(pid: int) -> bool:
    """Whether process ``pid`` is gone or a zombie (its parent, the grader, reaps it later)."""
    fields = proc_stat(pid)
    return fields is None or fields[0] in (b"Z", b"X")


def _join_sandbox(request: dict, fds: list[int], report: int) -> None:
    """In a fork of the zygote: join the sandbox, fork the kernel into it, end."""
    target = _placeholder(request["sandbox_pid"], request["uid"])
    opened = {}
    for name in NAMESPACES:
        path = f"/proc/{target}/ns/{name}"
        if os.path.exists(path):
            opened[name] = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    root = os.open(f"/proc/{target}/root", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    if _uid_of(target) != request["uid"]:  # the process read is still the placeholder
        raise ZygoteError("the sandbox's placeholder changed while it was opened")
    for name in REQUIRED_NEW:
        if name not in opened:
            raise ZygoteError(f"no {name} namespace to join")
        if os.fstat(opened[name]).st_ino == os.stat(f"/proc/self/ns/{name}").st_ino:
            raise ZygoteError(f"the sandbox shares the grader's {name} namespace")
    for name, fd in opened.items():
        if os.fstat(fd).st_ino != os.stat(f"/proc/self/ns/{name}").st_ino:
            _check(_c().setns(fd, CLONE_FLAGS[name]), f"setns({name})")
        os.close(fd)
    os.fchdir(root)
    os.chroot(".")
    os.close(root)
    os.chdir(request["workdir"])
    pid = os.fork()  # the first process of this PID namespace's that is ours
    if pid == 0:
        _become_kernel(request, fds, report)
    os._exit(0)


def _become_kernel(request: dict, fds: list[int], report: int) -> None:
    """In the sandbox: limits, user, environment, file descriptors; then ipykernel."""
    try:
        os.setsid()
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        null = os.open("/dev/null", os.O_RDWR)
        for std in (0, 1, 2):
            os.dup2(null, std)
        os.close(null)
        doorbell = request["doorbell_fd"]
        if doorbell in (0, 1, 2):
            raise ZygoteError(f"doorbell descriptor {doorbell} is a standard stream's")
        if report == doorbell:  # the report pipe moves out of the doorbell's way
            moved = os.dup(report)
            os.close(report)
            report = moved
        if fds[0] != doorbell:
            os.dup2(fds[0], doorbell)
            os.close(fds[0])
        os.set_inheritable(doorbell, True)
        keep = sorted({0, 1, 2, doorbell, report})
        low = 3
        for fd in keep[3:]:
            os.closerange(low, fd)
            low = fd + 1
        os.closerange(low, resource.getrlimit(resource.RLIMIT_NOFILE)[0])
        # The lifeline: the placeholder reads it until this process (and whatever inherited it)
        # has gone.
        lifeline = _open_lifeline(request["lifeline"])
        limits = request["limits"]
        for name, value in (
            ("RLIMIT_AS", limits["memory_bytes"]),
            ("RLIMIT_CPU", limits["cpu_seconds"]),
            ("RLIMIT_NPROC", limits["processes"]),
            ("RLIMIT_FSIZE", limits["file_bytes"]),
            ("RLIMIT_NOFILE", limits["open_files"]),
        ):
            resource.setrlimit(getattr(resource, name), (int(value), int(value)))
        _prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL)
        with open("/proc/sys/kernel/cap_last_cap", encoding="ascii") as fh:
            last_cap = int(fh.read())
        for cap in range(last_cap + 1):
            _prctl(PR_CAPBSET_DROP, cap)
        uid = request["uid"]
        os.setgroups([])
        os.setresgid(uid, uid, uid)
        os.setresuid(uid, uid, uid)
        _prctl(PR_SET_NO_NEW_PRIVS, 1)
        # Changing user made the process undumpable (its /proc files root's); a kernel started
        # by exec is dumpable, and libraries read /proc/self.
        _prctl(PR_SET_DUMPABLE, 1)
        if os.getuid() != uid or os.geteuid() != uid or _capabilities() != 0:
            raise ZygoteError("the kernel's process kept privileges")
        os.environ.clear()
        os.environ.update(request["env"])
        if sys.path and sys.path[0] == "/":  # the zygote's "-m" folder: the kernel's is its own
            sys.path[0] = request["workdir"]
        sys.argv = [str(Path(__file__).with_name("kernel_launch.py")), *request["argv"]]
        if "numpy.random" in sys.modules:  # (imported by torch; numpy itself loads it lazily)
            sys.modules["numpy.random"].seed()  # a fresh interpreter seeds it from the system
        os.write(report, b"ok")
        os.close(report)
    except BaseException as exc:  # noqa: BLE001
        with contextlib.suppress(OSError):
            os.write(report, f"{type(exc).__name__}: {exc}".encode()[:4000])
        os._exit(1)
    del lifeline  # held open (not inheritable across exec) for as long as the kernel lives
    code = 0
    try:
        from ipykernel import kernelapp

        kernelapp.launch_new_instance(argv=request["argv"])
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:  # noqa: BLE001
        code = 1
    finally:
        with contextlib.suppress(BaseException):
            import atexit

            atexit._run_exitfuncs()
        os._exit(code)


def _open_lifeline(path: str) -> int:
    """The write end of the lifeline, once the placeholder has opened the read end."""
    import fcntl

    deadline = time.monotonic() + SANDBOX_WAIT_SECONDS
    while True:
        try:
            fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOFOLLOW)
            break
        except OSError as exc:
            if exc.errno != errno.ENXIO or time.monotonic() > deadline:  # no reader yet
                raise
            time.sleep(0.001)
    fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) & ~os.O_NONBLOCK)
    return fd


def _capabilities() -> int:
    """The effective and permitted capability sets of this process, OR-ed."""
    total = 0
    with open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith(("CapEff:", "CapPrm:", "CapAmb:")):
                total |= int(line.split()[1], 16)
    return total


if __name__ == "__main__":
    main(sys.argv[1:])
