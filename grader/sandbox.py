"""The sandbox a student's kernel runs in.

With bubblewrap (``bwrap``) the kernel sees a read-only system (``/usr``, ``/etc``, the Python
installation, the virtual environment and the ``i2dl``/``grader`` sources), an empty ``/tmp`` and
its own empty working folder (both size-limited tmpfs, the only places it can write), the
runtime folder holding its connection file and unix sockets, and the folders through which
hidden tests call it. It has no network, its own PID namespace, and runs as an unprivileged user
so that the process limit holds. ``prlimit`` bounds address space, CPU time, processes, file size
and open files. Nothing else of the machine is visible: not ``solutions/``, not the gradebook, not
the course folder, not other submissions. Where an exercise declares data masks
(:mod:`grader.data_masks`), masked copies of installed data files are bound over the real ones.

Without bubblewrap only the resource limits apply (and no data masks); the grader says so loudly.
"""

from __future__ import annotations

import itertools
import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from grader.mpl_cache import font_list
from i2dl.budgets import NOTEBOOK_SECONDS

# Each kernel runs as a user of its own, taken from this range: RLIMIT_NPROC counts every
# process and thread of a user, machine-wide, so kernels sharing one user (all as "nobody")
# would share one budget, and a few running side by side would stop each other from starting
# threads.
KERNEL_UIDS = range(200_000, 1_200_000)
_uids = itertools.count()
GIB = 1024**3


@dataclass(frozen=True)
class Limits:
    """Resource limits of one kernel (configurable from the command line)."""

    memory_bytes: int = 4 * GIB
    cpu_seconds: int = NOTEBOOK_SECONDS
    processes: int = 64
    file_bytes: int = 256 * 1024**2
    open_files: int = 256
    # Size of each writable tmpfs (/tmp and the working folder): bounds what a submission can
    # write in total, so it cannot fill the host's disk with many files below file_bytes.
    scratch_bytes: int = 512 * 1024**2


def bwrap_path() -> str | None:
    """The bubblewrap executable; ``I2DL_BWRAP`` overrides the lookup (empty: none)."""
    if "I2DL_BWRAP" in os.environ:
        return os.environ["I2DL_BWRAP"] or None
    return shutil.which("bwrap")


def kernel_uid() -> int:
    """A user id for the next kernel, distinct from the other kernels running now."""
    slot = (os.getpid() * 1024 + next(_uids)) % len(KERNEL_UIDS)
    return KERNEL_UIDS[slot]


def can_drop_privileges() -> bool:
    return os.geteuid() == 0 and shutil.which("setpriv") is not None


def sandbox_available() -> bool:
    return bwrap_path() is not None


def _python_roots() -> list[Path]:
    """Folders the kernel's Python needs: the installation and the environment."""
    roots = {Path(sys.base_prefix).resolve(), Path(sys.prefix).absolute()}
    return sorted(roots)


def _package_roots() -> list[Path]:
    """Source folders of i2dl and grader (an editable install imports them from the checkout)."""
    import grader
    import i2dl

    return [Path(i2dl.__file__).resolve().parent, Path(grader.__file__).resolve().parent]


def _parents_with_perms(path: Path) -> list[str]:
    """bwrap creates missing parents with mode 0700; create them 0755 first."""
    args: list[str] = []
    for parent in reversed(path.parents):
        if str(parent) == "/":
            continue
        args += ["--perms", "0755", "--dir", str(parent)]
    return args


def prlimit_args(limits: Limits) -> list[str]:
    return [
        "prlimit",
        f"--as={limits.memory_bytes}",
        f"--cpu={limits.cpu_seconds}",
        f"--nproc={limits.processes}",
        f"--fsize={limits.file_bytes}",
        f"--nofile={limits.open_files}",
        "--",
    ]


def sandbox_env(workdir: Path) -> dict[str, str]:
    """The whole environment of a kernel in the sandbox (nothing of the grader's leaks in)."""
    return {
        "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin",
        "HOME": str(workdir),
        "LANG": "C.UTF-8",
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "MPLCONFIGDIR": "/tmp",
    }


def wrap_kernel_command(
    cmd: list[str],
    workdir: Path,
    runtime: Path,
    limits: Limits,
    staging: Path | None = None,
    exchange: tuple[Path, Path] | None = None,
    uid: int = KERNEL_UIDS[0],
    masks: tuple[tuple[str, str], ...] = (),
) -> list[str]:
    """The command that starts ``cmd`` (a kernel) inside the sandbox.

    ``workdir`` is the path the kernel runs in: a fresh, size-limited tmpfs, so a submission
    can write there (and in ``/tmp``) but never more than ``limits.scratch_bytes``. ``runtime``
    holds the connection file and sockets; ``staging`` (read-only inside) the files handed in
    next to the notebook; ``exchange`` is the (inbox, outbox) of hidden-test calls, the inbox
    read-only inside the sandbox and the outbox writable. ``masks`` are (masked copy, real file)
    pairs (:mod:`grader.data_masks`): each copy is bound read-only over its real file, after the
    Python environment, so that every path to the file inside gives the copy.
    """
    limited = prlimit_args(limits) if shutil.which("prlimit") else []
    bwrap = bwrap_path()
    if bwrap is None:
        return limited + cmd
    args = [bwrap]
    for system in ("/usr", "/bin", "/sbin", "/lib", "/lib64", "/lib32", "/etc"):
        if Path(system).exists():
            args += ["--ro-bind", system, system]
    size = ["--perms", "1777", "--size", str(limits.scratch_bytes)]
    args += ["--proc", "/proc", "--dev", "/dev", *size, "--tmpfs", "/tmp"]
    hidden_homes = {Path("/root"), Path("/home")}
    for home in sorted(hidden_homes):
        if home.exists():
            args += ["--size", "1048576", "--tmpfs", str(home)]
    for root in _python_roots() + _package_roots():
        args += _parents_with_perms(root) + ["--ro-bind", str(root), str(root)]
    for masked, real in masks:
        args += ["--ro-bind", masked, real]
    fonts = font_list()  # matplotlib's, built once per machine (grader.mpl_cache)
    if fonts is not None:
        args += ["--ro-bind", str(fonts), f"/tmp/{fonts.name}"]
    args += _parents_with_perms(runtime) + ["--bind", str(runtime), str(runtime)]
    for folder in [staging] if staging is not None else []:
        args += _parents_with_perms(folder) + ["--ro-bind", str(folder), str(folder)]
    if exchange is not None:
        inbox, outbox = exchange
        args += _parents_with_perms(inbox) + ["--ro-bind", str(inbox), str(inbox)]
        args += _parents_with_perms(outbox) + ["--bind", str(outbox), str(outbox)]
    args += _parents_with_perms(workdir) + [*size, "--tmpfs", str(workdir)]
    args += [
        "--unshare-pid",
        "--unshare-net",
        "--unshare-ipc",
        "--unshare-uts",
        "--unshare-cgroup-try",
        "--die-with-parent",
        "--new-session",
        "--chdir",
        str(workdir),
        "--clearenv",
    ]
    for name, value in sandbox_env(workdir).items():
        args += ["--setenv", name, value]
    if can_drop_privileges():
        # RLIMIT_NPROC is not enforced for root: switch to an unprivileged user inside.
        args += [
            "--cap-add",
            "CAP_SETUID",
            "--cap-add",
            "CAP_SETGID",
            "--",
            "setpriv",
            f"--reuid={uid}",
            f"--regid={uid}",
            "--clear-groups",
            "--",
        ]
    else:
        args += ["--"]
    return limited + args + cmd


def prepare_private_dir(path: Path, uid: int) -> None:
    """Make ``path`` (and everything in it) usable by the kernel's unprivileged user."""
    path.mkdir(parents=True, exist_ok=True)
    if bwrap_path() is not None and can_drop_privileges():
        for item in [path, *path.rglob("*")]:
            os.chown(item, uid, uid)


def describe() -> str:
    """One line for the report: what isolation grading runs with."""
    if bwrap_path() is None:
        return (
            "WARNING: bubblewrap (bwrap) is not installed: student kernels run WITHOUT a sandbox "
            "(they can read files and use the network); only resource limits apply, and data "
            "masks (held-out labels hidden from kernels, see grader/data_masks.py) are NOT "
            "applied. "
            "Install it with `apt-get install -y bubblewrap`."
        )
    from grader import zygote

    user = "as an unprivileged user" if can_drop_privileges() else "as the current user"
    forked = ", kernels forked from a preloaded process" if zygote.available() else ""
    return f"sandbox: bubblewrap, no network, read-only system, {user}, prlimit limits{forked}"
