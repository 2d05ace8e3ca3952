"""Hidden tests run in the trusted grader process; the student's code stays in the sandbox.

:func:`run_hidden` executes one hidden region here, with the grader's own numpy. Every name the
region reads but does not bind is looked up in the student's kernel: plain data (arrays,
numbers, strings, containers) arrives as a copy; anything else (functions, caches, models)
arrives as a :class:`RemoteRef`, a proxy whose calls, attribute reads and iteration are
performed by the kernel (:mod:`grader.kernel_side`). Arguments and results cross as ``.npz``
data (:mod:`grader.wire`), so the verdict (every ``assert`` of the region) is computed from
values the student's code returned, by code the student's code cannot reach: patching numpy,
the course's helpers or IPython inside the kernel changes nothing here.

Arrays keep their identity across the boundary (see :class:`grader.wire.ArrayTable`): an input
that the student's function changes in place is changed here too, so "does not modify its
inputs" tests keep working.

Failures that stop the notebook (the kernel timed out, died, or ran out of memory during a
call) are raised as :class:`GradingStopped` subclasses, which derive from ``BaseException`` so
that no ``except Exception`` in a hidden test can swallow them.
"""

from __future__ import annotations

import ast
import builtins
import contextlib
import functools
import io
import itertools
import math
import os
import select
import socket
import stat
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from grader import notebook_checks, wire
from grader.hidden import SEEDED_NAMES, free_names
from grader.kernel_side import MAX_LINE, is_memory_error, parse_line

# What every hidden region finds without importing it.
SEEDED = {"np": np, "math": math}
assert set(SEEDED) == set(SEEDED_NAMES)
# Modules a kernel may name as a value; the trusted side substitutes its own copy.
TRUSTED_MODULES = ("numpy", "math", "cmath")
_SESSIONS = itertools.count(1)


class GradingStopped(BaseException):
    """The student's kernel can no longer be used for this notebook."""

    status = "crashed"


class RemoteTimeout(GradingStopped):
    status = "timeout"


class RemoteDied(GradingStopped):
    status = "crashed"


class RemoteOutOfMemory(GradingStopped):
    status = "memory"


class RemoteError(Exception):
    """The student's code raised an exception that is not a built-in one."""


class ProtocolError(Exception):
    """The kernel's answer to a grader call was missing or malformed."""


def _open_folder(path: Path) -> int:
    return os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)


def _read_untrusted(folder_fd: int, name: str) -> bytes | None:
    """Read and remove a file the kernel wrote: a regular file of bounded size, no links."""
    try:
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=folder_fd)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ProtocolError(f"the kernel's answer {name} cannot be opened ({exc})") from exc
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_size > wire.MAX_BYTES:
            raise ProtocolError(f"the kernel's answer {name} is not a regular, bounded file")
        chunks, size = [], 0
        while chunk := os.read(fd, 1 << 20):
            chunks.append(chunk)
            size += len(chunk)
            if size > wire.MAX_BYTES:
                raise ProtocolError(f"the kernel's answer {name} exceeds {wire.MAX_BYTES} bytes")
    finally:
        os.close(fd)
        with contextlib.suppress(OSError):
            os.unlink(name, dir_fd=folder_fd)
    return b"".join(chunks)


def _write_trusted(folder_fd: int, name: str, data: bytes) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(name, dir_fd=folder_fd)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
    fd = os.open(name, flags, 0o644, dir_fd=folder_fd)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
    finally:
        os.close(fd)


class Channel:
    """Requests to one kernel: a file in ``inbox`` (the kernel may only read it), a doorbell line
    on the kernel's socket (:mod:`grader.kernel_side`), the answer in ``outbox``.

    The kernel calls back (a hidden test's function passed to the student's code) on the same
    socket: ``C <n>`` names a request file in ``outbox``; ``A <n>`` says the answer is in
    ``inbox``, ``X <n>`` that there is none. Every line from the kernel is untrusted: lines that
    are not the expected answer are skipped, and a kernel that never answers runs into the
    cell's deadline.
    """

    def __init__(
        self,
        rpc: socket.socket,
        inbox: Path,
        outbox: Path,
        alive: Callable[[], bool],
    ) -> None:
        self.inbox, self.outbox, self.alive = inbox, outbox, alive
        self.inbox_fd = _open_folder(inbox)
        self.outbox_fd = _open_folder(outbox)
        self.sock = rpc
        self.buffer = b""
        self.seq = 0

    def close(self) -> None:
        for fd in (self.inbox_fd, self.outbox_fd):
            with contextlib.suppress(OSError):
                os.close(fd)

    def request(
        self,
        data: bytes,
        deadline: float,
        on_callback: Callable[[bytes], bytes],
    ) -> bytes:
        self.seq += 1
        seq = self.seq
        _write_trusted(self.inbox_fd, f"req-{seq}.npz", data)
        try:
            self._send(b"R %d\n" % seq)
            self._wait(seq, deadline, on_callback)
        finally:
            with contextlib.suppress(OSError):
                os.unlink(f"req-{seq}.npz", dir_fd=self.inbox_fd)
        answer = _read_untrusted(self.outbox_fd, f"rep-{seq}.npz")
        if answer is None:
            raise ProtocolError(
                "the student's kernel did not answer the grader's call (was the code that "
                "answers it changed or disabled?)"
            )
        return answer

    def _send(self, line: bytes) -> None:
        try:
            self.sock.sendall(line)
        except OSError:
            self._gone()

    def _gone(self) -> None:
        """The kernel's end is closed: it died (or the student's code closed it)."""
        end = time.monotonic() + 2
        while self.alive() and time.monotonic() < end:
            time.sleep(0.01)
        if not self.alive():
            raise RemoteDied("the kernel died")
        raise ProtocolError("the student's kernel closed its connection to the grader")

    def _line(self, deadline: float) -> bytes:
        """The next line from the kernel (at most ``MAX_LINE`` bytes; longer ones are cut)."""
        while b"\n" not in self.buffer:
            if len(self.buffer) > MAX_LINE:
                self.buffer = b""  # junk without a line end: dropped
            left = deadline - time.monotonic()
            if left <= 0:
                raise RemoteTimeout("the student's code ran past the cell's time budget")
            ready, _, _ = select.select([self.sock], [], [], min(left, 0.2))
            if not ready:
                if not self.alive():
                    raise RemoteDied("the kernel died")
                continue
            try:
                data = self.sock.recv(1 << 16)
            except OSError:
                data = b""
            if not data:
                self._gone()
            self.buffer += data
        line, self.buffer = self.buffer.split(b"\n", 1)
        return line

    def _wait(
        self, seq: int, deadline: float, on_callback: Callable[[bytes], bytes]
    ) -> None:
        """Until the kernel says it answered ``seq``, serving its callbacks meanwhile."""
        while True:
            if time.monotonic() > deadline:
                raise RemoteTimeout("the student's code ran past the cell's time budget")
            parsed = parse_line(self._line(deadline))
            if parsed is None:
                continue
            kind, number = parsed
            if kind == b"D" and number == seq:
                return
            if kind == b"C":
                answered = self._callback(number, on_callback)
                self._send(b"%s %d\n" % (b"A" if answered else b"X", number))

    def _callback(self, number: int, on_callback: Callable[[bytes], bytes]) -> bool:
        # Whatever goes wrong here, the kernel gets an answer: it waits for one.
        try:
            request = _read_untrusted(self.outbox_fd, f"cb-{number}.npz")
            if request is None:
                return False
            _write_trusted(self.inbox_fd, f"cbr-{number}.npz", on_callback(request))
        except (ProtocolError, wire.WireError, OSError):
            return False
        return True


class _Unavailable:
    """A value of the student's that cannot be used on the trusted side (a foreign module)."""

    def __init__(self, what: str) -> None:
        self._what = what

    def __getattr__(self, name: str) -> Any:
        raise RemoteError(f"{self._what} from the student's kernel cannot be used by hidden tests")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self.__getattr__("__call__")


class RemoteRef:
    """An object that lives in the student's kernel (a function, a cache, a model...)."""

    __slots__ = ("_session", "_number", "_info")
    _i2dl_remote = True  # looked up on the type by grader.notebook_checks, never remotely

    def __init__(self, session: RemoteSession, number: int, info: dict[str, Any]) -> None:
        object.__setattr__(self, "_session", session)
        object.__setattr__(self, "_number", number)
        object.__setattr__(self, "_info", info)

    @property
    def __name__(self) -> str:  # type: ignore[override]
        name = self._info.get("name")
        return name if isinstance(name, str) else f"<{self._info.get('type', 'object')}>"

    def _i2dl_call(
        self,
        args: tuple,
        kwargs: dict,
        own: bool,
        block: tuple[str, ...] | None,
        direct: dict[str, str] | None = None,
    ):
        return self._session.operate(
            "call", self, args, kwargs, own=own, block=block, direct=direct
        )

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._i2dl_call(
            args,
            kwargs,
            own=False,
            block=notebook_checks.current_block(),
            direct=notebook_checks.current_block_direct(),
        )

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)  # numpy and Python probe dunders; never ask the kernel
        return self._session.operate("getattr", self, (name,))

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("hidden tests cannot set attributes of the student's objects")

    def __iter__(self):
        return iter(self._session.operate(
            "iter",
            self,
            block=notebook_checks.current_block(),
            direct=notebook_checks.current_block_direct(),
        ))

    def __len__(self) -> int:
        return int(self._session.operate("len", self))

    def __getitem__(self, key: Any) -> Any:
        return self._session.operate("getitem", self, (key,))

    def __bool__(self) -> bool:
        return bool(self._session.operate("bool", self))

    def __repr__(self) -> str:
        try:
            return str(self._session.operate("repr", self))
        except Exception:
            return f"<student's {self._info.get('type', 'object')}>"


class RemoteSession:
    """One hidden region's conversation with the kernel (arrays, kept objects, callbacks)."""

    def __init__(self, channel: Channel, deadline: float) -> None:
        self.channel = channel
        self.deadline = deadline
        self.ident = f"{os.getpid()}-{next(_SESSIONS)}"
        self.table = wire.ArrayTable("h", import_torch=True)  # tensors arrive as tensors
        self.refs: dict[int, RemoteRef] = {}
        self.callbacks: dict[int, Callable[..., Any]] = {}
        self.callback_numbers: dict[int, int] = {}
        self.in_callback = False
        self.stopped: GradingStopped | None = None

    # --- encoding what we send ---
    def _encode_other(self, value: Any) -> dict[str, Any]:
        if type(value) is RemoteRef:
            if value._session is not self:
                raise RemoteError("an object of another test cell cannot be used here")
            return {"r": value._number}
        if callable(value) and not isinstance(value, type):
            number = self.callback_numbers.get(id(value))
            if number is None:
                number = len(self.callbacks) + 1
                self.callbacks[number] = value
                self.callback_numbers[id(value)] = number
            return {"cb": number, "name": getattr(value, "__name__", "callback")}
        raise wire.WireError(
            f"a hidden test passed a {type(value).__name__} to the student's code; only arrays, "
            "numbers, strings, containers of them and functions can be passed"
        )

    def _decode_other(self, node: dict[str, Any]) -> Any:
        if "r" in node:
            number = node["r"]
            if not isinstance(number, int):
                raise wire.WireError("bad reference number")
            ref = self.refs.get(number)
            if ref is None:
                info = {k: node.get(k) for k in ("type", "name", "callable")}
                ref = self.refs[number] = RemoteRef(self, number, info)
            return ref
        if "cb" in node:
            number = node["cb"]
            if number not in self.callbacks:
                raise wire.WireError("unknown callback number")
            return self.callbacks[number]
        name = str(node.get("m"))
        if name.split(".")[0] in TRUSTED_MODULES and name in sys.modules:
            return sys.modules[name]
        return _Unavailable(f"module {name[:80]!r}")

    def _send(self, meta: dict[str, Any], encoder: wire.Encoder) -> Any:
        if self.stopped is not None:
            raise self.stopped
        if self.in_callback:
            raise RuntimeError("a function passed to the student's code cannot call it back")
        meta["session"] = self.ident
        try:
            data = wire.pack(meta, encoder.finish())
            answer = self.channel.request(data, self.deadline, self._serve_callback)
        except GradingStopped as stop:
            self.stopped = stop
            raise
        try:
            reply, arrays = wire.unpack(answer)
            decoder = wire.Decoder(self.table, arrays, self._decode_other)
            if reply.get("ok") is True:
                value = decoder.decode(reply.get("value"))
                decoder.apply_rest()
                return value
            decoder.apply_rest()
        except wire.WireError as exc:
            raise ProtocolError(f"the student's kernel sent an unusable answer: {exc}") from exc
        self._raise(reply.get("error"))

    def _raise(self, error: Any) -> None:
        if not isinstance(error, dict):
            raise ProtocolError("the student's kernel sent an unusable error")
        name = str(error.get("type", "Error"))[:100]
        message = str(error.get("message", ""))[:2000]
        if error.get("memory") is True or is_memory_error(name, message):
            self.stopped = RemoteOutOfMemory("out of memory")
            raise self.stopped
        if name == "DelegationError":
            raise notebook_checks.DelegationError(message)
        builtin = getattr(builtins, name, None)
        if (
            error.get("module") == "builtins"
            and isinstance(builtin, type)
            and issubclass(builtin, Exception)
        ):
            try:
                raise builtin(message)
            except TypeError:  # an exception class whose constructor wants other arguments
                pass
        raise RemoteError(f"{name}: {message}")

    # --- what hidden tests do ---
    def lookup(self, names: list[str]) -> dict[str, Any]:
        encoder = wire.Encoder(self.table, self._encode_other)
        found = self._send({"op": "lookup", "names": names}, encoder)
        if not isinstance(found, dict):
            raise ProtocolError("the student's kernel answered a lookup with something else")
        return {name: value for name, value in found.items() if name in names}

    def operate(
        self,
        op: str,
        target: RemoteRef,
        args: tuple = (),
        kwargs: dict | None = None,
        own: bool = False,
        block: tuple[str, ...] | None = None,
        direct: dict[str, str] | None = None,
    ) -> Any:
        encoder = wire.Encoder(self.table, self._encode_other)
        meta = {
            "op": op,
            "target": encoder.encode(target),
            "args": encoder.encode(list(args)),
            "kwargs": encoder.encode(dict(kwargs or {})),
            "own": own,
            "block": list(block) if block is not None else None,
            "block_direct": dict(direct) if direct else None,
            "errstate": dict(np.geterr()),
        }
        return self._send(meta, encoder)

    def _serve_callback(self, request: bytes) -> bytes:
        """Evaluate one of the hidden test's functions for the student's code."""
        encoder = wire.Encoder(self.table, self._encode_other)
        self.in_callback = True
        try:
            meta, arrays = wire.unpack(request)
            decoder = wire.Decoder(self.table, arrays, self._decode_other)
            function = self.callbacks.get(meta.get("cb"))
            if function is None:
                raise wire.WireError("unknown callback")
            args = decoder.decode(meta.get("args"))
            kwargs = decoder.decode(meta.get("kwargs"))
            decoder.apply_rest()
            if not isinstance(args, list) or not isinstance(kwargs, dict):
                raise wire.WireError("bad callback arguments")
            reply = {"ok": True, "value": encoder.encode(function(*args, **kwargs))}
        except Exception as exc:
            encoder = wire.Encoder(self.table, self._encode_other)
            reply = {"ok": False, "error": {"type": type(exc).__name__, "message": str(exc)}}
        finally:
            self.in_callback = False
        return wire.pack(reply, encoder.finish())


@functools.lru_cache(maxsize=256)  # a class's hand-ins share their hidden regions
def _compiled(source: str, label: str):
    return compile(ast.parse(source, filename=f"<{label}>"), f"<{label}>", "exec")


def run_hidden(
    source: str, channel: Channel, deadline: float, label: str = "hidden tests"
) -> tuple[BaseException | None, str]:
    """Run one hidden region against the student's kernel.

    Returns ``(error, printed)``: the exception that failed the test (None: it passed) and what
    the region printed. Raises :class:`GradingStopped` when the kernel can no longer be used.
    """
    session = RemoteSession(channel, deadline)
    printed = io.StringIO()
    try:
        code = _compiled(source, label)
    except SyntaxError as exc:
        return exc, ""
    namespace: dict[str, Any] = {"__builtins__": builtins, "__name__": "__i2dl_hidden__", **SEEDED}
    token = notebook_checks.enter_hidden_mode()
    try:
        namespace.update(session.lookup(sorted(free_names(source))))
        with contextlib.redirect_stdout(printed), contextlib.redirect_stderr(printed):
            exec(code, namespace)
    except GradingStopped:
        raise
    except Exception as exc:
        return exc, printed.getvalue()
    finally:
        notebook_checks.leave_hidden_mode(token)
    if session.stopped is not None:
        raise session.stopped
    return None, printed.getvalue()
