"""Sandboxed kernels, started one notebook ahead.

Starting a kernel (a sandbox, a Python interpreter, ipykernel, numpy) takes most of a second,
nearly all of it waiting. Each grading process therefore keeps one spare kernel booting while it
grades the current notebook: :meth:`KernelPool.take` hands out the spare (or starts one) and
immediately starts the next. A kernel is used for exactly one notebook and then killed, so
nothing of one student's run reaches another's.

A kernel does not know whose notebook it will run when it starts. Its working folder is a fresh,
size-limited tmpfs (``/home/student`` inside the sandbox); files handed in next to the notebook
are copied into it from a read-only staging folder by the grader's own code before the first
cell of the student runs (:meth:`Kernel.copy_in_code`).
"""

from __future__ import annotations

import atexit
import contextlib
import dataclasses
import fnmatch
import multiprocessing.util
import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from jupyter_client.manager import AsyncKernelManager
from jupyter_core.utils import run_sync

from grader import zygote as zygotes
from grader.kernel_side import startup_line
from grader.mpl_cache import font_list
from grader.sandbox import (
    Limits,
    kernel_uid,
    prepare_private_dir,
    sandbox_available,
    sandbox_env,
    wrap_kernel_command,
)

# The working folder inside the sandbox (the kernel's cwd and HOME).
SANDBOX_WORKDIR = Path("/home/student")
# Never copied into a kernel's working folder: notebooks (graded from nbgrader's copy) and
# editor or grader debris.
NOT_COPIED = ("*.ipynb", ".ipynb_checkpoints", "__pycache__", "feedback")


# Files handed in next to a notebook reach the student's kernel (data, helper modules); this
# much of them at most, the rest is left out.
MAX_EXTRA_BYTES = 128 * 1024**2


def copy_extra_files(source: Path, target: Path, skip: tuple[str, ...]) -> list[str]:
    """Copy the regular files of ``source`` (not matching ``skip``) into ``target``.

    Links, devices and other special files are never followed or copied: a hand-in must not
    bring a view of the grader's machine into the sandbox. (Hand-ins reach grading already
    staged without links, :mod:`grader.submissions`; this holds on its own all the same: each
    file is opened with ``O_NOFOLLOW`` and checked to be a regular file before it is read.)
    Returns what was left out and why.
    """
    left_out: list[str] = []
    total = 0
    for folder, dirs, files in os.walk(source, followlinks=False):
        here = Path(folder)
        kept = []
        for name in sorted(d for d in dirs if not _skipped(d, skip)):
            if (here / name).is_symlink():
                left_out.append(f"{(here / name).relative_to(source)} (not a regular file)")
            else:
                kept.append(name)
        dirs[:] = kept
        for name in sorted(files):
            path = here / name
            relative = path.relative_to(source)
            if _skipped(name, skip):
                continue
            with _open_regular(path) as handle:
                if handle is None:
                    left_out.append(f"{relative} (not a regular file)")
                    continue
                size = os.fstat(handle.fileno()).st_size
                if total + size > MAX_EXTRA_BYTES:
                    left_out.append(f"{relative} (more than {MAX_EXTRA_BYTES} bytes of files)")
                    continue
                total += size
                (target / relative).parent.mkdir(parents=True, exist_ok=True)
                with open(target / relative, "wb") as out:
                    shutil.copyfileobj(handle, out)
    return left_out


@contextlib.contextmanager
def _open_regular(path: Path):
    """``path`` opened for reading if it is a regular file (never through a link), else None."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:  # a link (ELOOP), gone, unreadable
        yield None
        return
    with os.fdopen(fd, "rb") as handle:
        yield handle if stat.S_ISREG(os.fstat(fd).st_mode) else None


def _skipped(name: str, patterns: tuple[str, ...]) -> bool:
    return any(fnmatch.fnmatch(name, pattern) for pattern in patterns)


@dataclass(frozen=True)
class KernelSettings:
    """What a kernel is started with; a spare is only used for the same settings."""

    kernel_name: str
    limits: Limits
    extra_arguments: tuple[str, ...] = ()
    # (masked copy, real file) pairs bound over data files (grader.data_masks)
    data_masks: tuple[tuple[str, str], ...] = ()
    # Libraries the exercise imports that a zygote should hold loaded (grader.zygote)
    preload: tuple[str, ...] = ()


# A unix socket's path holds at most 107 bytes; the kernel's sockets are
# <folder>/run/kernel-<n>, so the folder's own path must stay well below that.
MAX_FOLDER_PATH = 72


FOLDER_PREFIX = "i2dl-kernel-"
# In each kernel folder: the grading process that made it, as "<pid> <start time>".
OWNER_FILE = "owner"
# A folder without an owner file (made by an older grader) is left alone for this long.
UNOWNED_GRACE_SECONDS = 24 * 3600


def _kernel_base() -> str:
    base = tempfile.gettempdir()
    if len(os.path.join(base, FOLDER_PREFIX + "xxxxxxxx")) > MAX_FOLDER_PATH:
        base = "/tmp"
    return base


def _process_start(pid: int) -> str:
    """When process ``pid`` started (clock ticks since boot, from /proc), or "" if unknown."""
    fields = zygotes.proc_stat(pid)
    return fields[19].decode() if fields is not None and len(fields) > 19 else ""


def _owner_alive(owner: str) -> bool | None:
    """Whether the process an owner file names still runs (the same process, not a new one
    that got its number); None if the text names no process."""
    try:
        pid_text, _, started = owner.strip().partition(" ")
        pid = int(pid_text)
    except ValueError:
        return None
    if pid <= 0:
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it runs, as another user
    return not started or _process_start(pid) in ("", started)


def _command_lines() -> dict[int, bytes]:
    """pid -> command line (NUL-separated arguments) of every process this one can see."""
    lines = {}
    try:
        pids = [int(name) for name in os.listdir("/proc") if name.isdigit()]
    except OSError:
        return lines
    for pid in pids:
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as fh:
                lines[pid] = fh.read()
        except OSError:
            continue
    return lines


def _kill_processes_using(folder: str, command_lines: dict[int, bytes]) -> list[int]:
    """SIGKILL every process whose command line names ``folder`` or a path inside it."""
    path = os.fsencode(folder.rstrip("/"))
    killed = []
    for pid, line in command_lines.items():
        # A path inside the folder anywhere in an argument (the kernel's "-f .../connection.json",
        # its exec_lines, bubblewrap's binds), or the folder itself as one argument.
        if pid == os.getpid() or (path + b"/" not in line and path not in line.split(b"\0")):
            continue
        try:
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)
        except OSError:
            continue  # gone already, or not ours to stop
    return killed


def sweep_stale_folders(base: str | None = None) -> list[str]:
    """Remove the kernel folders that no running grader owns; return their paths.

    A grading process that is killed (a Dask worker lost mid-notebook, the out-of-memory
    killer) takes its kernels down with it (``--die-with-parent``) but cannot remove their
    folders, which hold connection files and sockets. The next grading process on the machine
    removes them: those whose owner file names a process that has ended, and those without an
    owner file older than a day. Folders of running graders, and folders just being made (no
    owner file yet), stay. Graders that share a temporary folder must see each other's
    processes (one machine or one container), as they do when started side by side.

    A grader killed in the instant between starting a sandbox and bubblewrap arming
    ``--die-with-parent`` leaves that sandbox running, kernel included. So before a stale
    folder goes, every process whose command line names a path in it (the sandbox's bubblewrap
    and the kernel, which are given its connection file) is killed.
    """
    base = base or _kernel_base()
    removed = []
    command_lines = None  # read once, and only when a folder is stale
    try:
        entries = os.scandir(base)
    except OSError:
        return removed
    now = time.time()
    with entries:
        for entry in entries:
            if not entry.name.startswith(FOLDER_PREFIX):
                continue
            try:
                if not entry.is_dir(follow_symlinks=False) or entry.stat().st_uid != os.geteuid():
                    continue
                owner_path = os.path.join(entry.path, OWNER_FILE)
                try:
                    with open(owner_path, encoding="ascii", errors="replace") as fh:
                        alive = _owner_alive(fh.read())
                except FileNotFoundError:
                    alive = None
                if alive is None:  # no owner named: stale only once it is old
                    stale = now - entry.stat().st_mtime > UNOWNED_GRACE_SECONDS
                else:
                    stale = not alive
            except OSError:
                continue
            if stale:
                if command_lines is None:
                    command_lines = _command_lines()
                _kill_processes_using(entry.path, command_lines)
                shutil.rmtree(entry.path, ignore_errors=True)
                removed.append(entry.path)
    return removed


def _kernel_folder() -> Path:
    """A new folder for one kernel, in the temporary folder unless that path is too long,
    marked with the process that owns it (see :func:`sweep_stale_folders`)."""
    folder = Path(tempfile.mkdtemp(prefix=FOLDER_PREFIX, dir=_kernel_base()))
    pid = os.getpid()
    partial = folder / f"{OWNER_FILE}.partial"  # renamed: a sweep never reads half an owner
    partial.write_text(f"{pid} {_process_start(pid)}", encoding="ascii")
    os.replace(partial, folder / OWNER_FILE)
    return folder


# The kernel's module, as started in the sandbox; what follows it is ipykernel's command line.
KERNEL_MODULE = "grader.kernel_launch"
# The named pipe a placeholder reads while a kernel forked from a zygote lives (grader.zygote).
LIFELINE = "lifeline"


def _without_debugger(cmd: list[str]) -> list[str]:
    """ipykernel's command started through :mod:`grader.kernel_launch` (no debugpy import)."""
    for i in range(len(cmd) - 1):
        if cmd[i] == "-m" and cmd[i + 1] == "ipykernel_launcher":
            return [*cmd[:i], "-m", KERNEL_MODULE, *cmd[i + 2 :]]
    return cmd


class SandboxedKernelManager(AsyncKernelManager):
    """A kernel manager whose kernels start inside the sandbox, talking over unix sockets."""

    def configure_sandbox(
        self,
        workdir: Path,
        runtime: Path,
        limits: Limits,
        binds: tuple[Path, Path, Path],
        uid: int,
        masks: tuple[tuple[str, str], ...] = (),
    ) -> None:
        self.sandbox = (workdir, runtime, limits, binds, uid)
        self.data_masks = masks
        self.zygote: zygotes.Zygote | None = None
        self.zygote_report: int | None = None  # read end of a forked kernel's report
        self.doorbell: int | None = None
        self.transport = "ipc"
        self.ip = str(runtime / "kernel")
        self.connection_file = str(runtime / "connection.json")

    def use_zygote(self, zygote: zygotes.Zygote, doorbell: int) -> None:
        """Start the kernel as a fork of ``zygote`` inside the sandbox (grader.zygote)."""
        self.zygote = zygote
        self.doorbell = doorbell
        runtime = self.sandbox[1]
        os.mkfifo(runtime / LIFELINE, 0o600)

    async def start_kernel(self, **kw):
        # The kernel's own chatter (connection banner, warnings) is not the grader's output.
        kw.setdefault("stdout", subprocess.DEVNULL)
        kw.setdefault("stderr", subprocess.DEVNULL)
        result = await super().start_kernel(**kw)
        if self.zygote is not None:
            workdir, runtime, limits, _binds, uid = self.sandbox
            request = {
                "sandbox_pid": self.provisioner.process.pid,
                "uid": uid,
                "workdir": str(workdir),
                "lifeline": str(runtime / LIFELINE),
                "argv": self.kernel_argv,
                "env": sandbox_env(workdir),
                "limits": dataclasses.asdict(limits),
                "doorbell_fd": self.doorbell,
            }
            self.zygote_report = self.zygote.spawn(request, [self.doorbell])
        return result

    def format_kernel_cmd(self, extra_arguments=None):
        cmd = _without_debugger(super().format_kernel_cmd(extra_arguments))
        workdir, runtime, limits, (staging, inbox, outbox), uid = self.sandbox
        if self.zygote is not None:
            # The sandbox runs a placeholder until the forked kernel joins it. The zygote runs
            # this interpreter (and its environment's packages): only its kernels are forked.
            if cmd[:3] != [sys.executable, "-m", KERNEL_MODULE]:
                raise zygotes.ZygoteError(f"not a kernel command the zygote can run: {cmd}")
            self.kernel_argv = cmd[3:]
            cmd = ["cat", str(runtime / LIFELINE)]
        return wrap_kernel_command(
            cmd, workdir, runtime, limits, staging, (inbox, outbox), uid, self.data_masks
        )

    def write_connection_file(self, **kwargs):
        super().write_connection_file(**kwargs)
        prepare_private_dir(Path(self.connection_file).parent, self.sandbox[-1])


class Kernel:
    """One started kernel, its folders, and how to get rid of both."""

    def __init__(self, settings: KernelSettings, zygote: zygotes.Zygote | None = None) -> None:
        self.settings = settings
        self.uid = kernel_uid()
        self.root = _kernel_folder()
        os.chmod(self.root, 0o755)
        # Read-only inside the sandbox: files handed in, and requests of hidden-test calls.
        self.staging = self.root / "files"
        self.inbox = self.root / "rpc-in"
        for folder in (self.staging, self.inbox):
            folder.mkdir(mode=0o755)
        # Writable inside: the connection file and sockets, and answers to hidden-test calls
        # (kept apart: the kernel could replace entries of a folder it may write).
        self.runtime = self.root / "run"
        self.outbox = self.root / "rpc-out"
        prepare_private_dir(self.runtime, self.uid)
        prepare_private_dir(self.outbox, self.uid)
        if sandbox_available():
            self.workdir = SANDBOX_WORKDIR
            cwd = None
        else:
            self.workdir = self.root / "work"
            prepare_private_dir(self.workdir, self.uid)
            cwd = str(self.workdir)
        self.km = SandboxedKernelManager(kernel_name=settings.kernel_name)
        self.km.configure_sandbox(
            self.workdir,
            self.runtime,
            settings.limits,
            (self.staging, self.inbox, self.outbox),
            self.uid,
            settings.data_masks,
        )
        # The grader's end of the hidden-test doorbell (grader.remote.Channel); the kernel
        # inherits the other end under the same number.
        self.rpc, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        if zygote is not None:
            self.km.use_zygote(zygote, theirs.fileno())
        arguments = [
            # Plain tracebacks (Python's own layout, the failing lines without their context):
            # IPython's default layout costs three times a failing cell's CPU time.
            "--InteractiveShell.xmode=Plain",
            *settings.extra_arguments,
            "--IPKernelApp.exec_lines="
            + startup_line(theirs.fileno(), str(self.inbox), str(self.outbox)),
        ]
        try:
            run_sync(self.km.start_kernel)(
                extra_arguments=arguments,
                cwd=cwd,
                pass_fds=() if zygote is not None else (theirs.fileno(),),
            )
        except BaseException:
            self.discard()
            raise
        finally:
            theirs.close()

    @property
    def forked(self) -> bool:
        return self.km.zygote is not None

    def confirm_started(self, timeout: float) -> None:
        """For a kernel forked from a zygote: wait until its process is set up, or raise
        :class:`grader.zygote.ZygoteError` with the reason (nothing to do for a plain one)."""
        fd, self.km.zygote_report = self.km.zygote_report, None
        if fd is None:
            return
        report = zygotes.read_report(fd, timeout)
        if report != "ok":
            raise zygotes.ZygoteError(f"the forked kernel did not start: {report}")

    def alive(self) -> bool:
        process = getattr(getattr(self.km, "provisioner", None), "process", None)
        return process is not None and process.poll() is None

    def stage_files(self, folder: Path) -> list[str]:
        """Copy what was handed in next to the notebook into the staging folder."""
        if not folder.is_dir():
            return []
        target = self.staging / "copy"
        target.mkdir()
        copy_extra_files(folder, target, NOT_COPIED)
        files = []
        for item in sorted(target.rglob("*")):
            os.chmod(item, 0o755 if item.is_dir() else 0o644)
            if item.is_file():
                files.append(item.relative_to(target).as_posix())
        return files

    def copy_in_code(self, files: list[str]) -> str:
        """Code that copies the staged files into the kernel's working folder (run first)."""
        source = str(self.staging / "copy")
        return (
            "import os as _os, shutil as _shutil\n"
            f"for _name in {files!r}:\n"
            "    _os.makedirs(_os.path.dirname(_name) or '.', exist_ok=True)\n"
            f"    _shutil.copyfile(_os.path.join({source!r}, _name), _name)\n"
            "del _os, _shutil, _name\n"
        )

    def discard(self) -> None:
        """Kill the kernel (if it still runs) and remove its folders.

        jupyter_client's own shutdown waits for a killed kernel in steps of 0.1 s; a kernel
        killed with SIGKILL (bubblewrap takes its sandbox down with it) is gone at once.
        """
        process = getattr(getattr(self.km, "provisioner", None), "process", None)
        if process is not None:
            with contextlib.suppress(OSError, subprocess.TimeoutExpired):
                if process.poll() is None:
                    process.kill()
                process.wait(timeout=10)
        with contextlib.suppress(Exception):
            run_sync(self.km.cleanup_resources)()
        if getattr(self, "rpc", None) is not None:
            self.rpc.close()
        report, self.km.zygote_report = self.km.zygote_report, None
        if report is not None:
            os.close(report)
        shutil.rmtree(self.root, ignore_errors=True)


class KernelPool:
    """At most one spare kernel per process, booting while the current notebook runs.

    The spare is killed and its folders removed when the process ends, also in a worker of a
    process pool (which skips ``atexit``: multiprocessing's finalizers run instead).
    """

    def __init__(self) -> None:
        self.spare: Kernel | None = None
        self._cleanup_pid: int | None = None
        # Whether the next take() boots a spare: the grading loop says when no notebook follows.
        self.want_spare = True
        # This process's zygote (grader.zygote), started with the first kernel that can use it.
        self.zygote: zygotes.Zygote | None = None
        # Why kernels start the plain way in this process, once a zygote failed.
        self.zygote_failure: str | None = None

    def _zygote(self, settings: KernelSettings) -> zygotes.Zygote | None:
        """The zygote for ``settings`` (one per process, restarted for other preloads)."""
        if self.zygote_failure is not None or not zygotes.available():
            return None
        zygote = self.zygote
        if zygote is not None and (
            zygote.pid_owner != os.getpid()  # inherited by a forked worker: not ours to use
            or zygote.preload != settings.preload
            or not zygote.alive()
        ):
            if zygote.pid_owner == os.getpid():
                zygote.close()
            else:
                with contextlib.suppress(OSError):
                    zygote.sock.close()  # our copy only; the owner's zygote lives on
            zygote = self.zygote = None
        if zygote is None:
            try:
                zygote = self.zygote = zygotes.Zygote(
                    settings.preload, sandbox_env(Path("/nonexistent")), font_list=font_list()
                )
            except zygotes.ZygoteError as exc:
                self.zygote_failure = str(exc)
                return None
        return zygote

    def _start(self, settings: KernelSettings, plain: bool = False) -> Kernel:
        """A kernel forked from this process's zygote; a plain one where that fails."""
        for attempt in range(2):  # a zygote found gone (killed) is started once more
            zygote = None if plain else self._zygote(settings)
            if zygote is None:
                break
            try:
                return Kernel(settings, zygote)
            except zygotes.ZygoteError as exc:
                if zygote.alive() or attempt == 1:
                    self.zygote_failure = str(exc)
        return Kernel(settings)

    def take(self, settings: KernelSettings) -> Kernel:
        if self._cleanup_pid != os.getpid():
            self._cleanup_pid = os.getpid()
            multiprocessing.util.Finalize(self, self.close, exitpriority=10)
            sweep_stale_folders()  # left by grading processes that were killed
        kernel, self.spare = self.spare, None
        if kernel is not None and (kernel.settings != settings or not kernel.alive()):
            kernel.discard()
            kernel = None
        if kernel is None:
            kernel = self._start(settings)
        if self.want_spare:
            try:
                self.spare = self._start(settings)
            except Exception:  # no spare this time; the next take starts one itself
                self.spare = None
        return kernel

    def replace_forked(self, kernel: Kernel, reason: str | None) -> Kernel:
        """A plain kernel instead of a forked one that failed to start (``reason``): no more
        zygotes here. Without a reason, just this once (the notebook needs a plain kernel)."""
        kernel.discard()
        if reason is not None:
            self.zygote_failure = reason
            if self.spare is not None and self.spare.forked:
                self.spare.discard()
                self.spare = None
        return self._start(kernel.settings, plain=True)

    def close(self) -> None:
        if self.spare is not None:
            self.spare.discard()
            self.spare = None
        if self.zygote is not None:
            self.zygote.close()
            self.zygote = None


POOL = KernelPool()
atexit.register(POOL.close)
