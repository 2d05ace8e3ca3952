"""The student's kernel side of hidden-test calls (imported inside the sandbox).

The trusted grader runs a hidden test in its own process. Whenever that test touches something
of the student's (calls ``affine_forward``, reads ``BEST_CONFIG``, calls a model), it writes a
request into a folder the kernel can only read and rings a doorbell: a line ``R <n>`` on a
socket the kernel inherited when it started (:func:`register`). The kernel's event loop runs
:func:`serve`, which does that one thing, writes the answer as data (:mod:`grader.wire`) into a
folder the kernel can write, and answers ``D <n>``. (Going through Jupyter's messages instead,
a comm message per call, costs several times as much on both sides: signed JSON messages
through two kernel threads, and busy/idle status messages to every client.) Nothing here
decides a verdict: the student controls this process, so all it can change is the data it sends
back, and comparisons happen on the trusted side.

Objects that are not plain data (functions, caches, models, generators) stay here under a
number; the trusted side holds a proxy and refers to them by that number. A function of the
trusted side passed as an argument (a loss whose gradient the student estimates) becomes a stub
that asks the trusted side to evaluate it: ``C <n>`` on the same socket, answered by ``A <n>``
(the answer is in the inbox) or ``X <n>`` (there is none).
"""

from __future__ import annotations

import contextlib
import os
import socket
import sys
import types
from typing import Any

import numpy as np

from grader import wire
from i2dl.ownership import DelegationError
from i2dl.ownership import references_blocked as _references_blocked

# The longest doorbell line either side accepts ("R 123", "D 123"...).
MAX_LINE = 32


def parse_line(line: bytes) -> tuple[bytes, int] | None:
    """A doorbell line (without its newline) as (kind, number); None for anything else."""
    kind, _, number = line.partition(b" ")
    if len(line) > MAX_LINE or not number.isdigit():
        return None
    return kind, int(number)


def startup_line(fd: int, inbox: str, outbox: str) -> str:
    """Run by the kernel when it starts, before any code of the student's (exec_lines)."""
    return (
        "__import__('grader.kernel_side', fromlist=['register'])"
        f".register({int(fd)}, {str(inbox)!r}, {str(outbox)!r})"
    )
# Exceptions that mean "out of memory": Python's, numpy's, and PyTorch's (torch.OutOfMemoryError,
# raised by its CUDA allocator). PyTorch's CPU allocator raises a plain RuntimeError instead,
# recognised by its message (:func:`is_memory_error`).
MEMORY_ERRORS = ("MemoryError", "_ArrayMemoryError", "OutOfMemoryError")
TORCH_CPU_OUT_OF_MEMORY = "DefaultCPUAllocator: can't allocate memory"


class CallbackError(Exception):
    """A function of the hidden test, called back from the student's code, failed."""


class _Session:
    """State of one hidden-test region: arrays by token, kept objects by number."""

    def __init__(self, ident: str, in_dir: str, out_dir: str) -> None:
        self.ident = ident
        self.in_dir = in_dir
        self.out_dir = out_dir
        self.table = wire.ArrayTable("k")
        self.objects: dict[int, Any] = {}
        self.numbers: dict[int, int] = {}  # id(object) -> number
        self.callbacks = 0

    def keep(self, value: Any) -> dict[str, Any]:
        """Encode an object that is not plain data as a reference to it."""
        if isinstance(value, _Callback) and value.session is self:
            return {"cb": value.number}
        if isinstance(value, types.ModuleType):
            return {"m": value.__name__}
        number = self.numbers.get(id(value))
        if number is None or self.objects.get(number) is not value:
            number = len(self.objects) + 1
            self.objects[number] = value
            self.numbers[id(value)] = number
        name = getattr(value, "__name__", None) if callable(value) else None
        return {
            "r": number,
            "type": type(value).__qualname__,
            "name": name if isinstance(name, str) else None,
            "callable": callable(value),
        }

    def resolve(self, node: dict[str, Any]) -> Any:
        if "r" in node:
            number = node["r"]
            if number not in self.objects:
                raise wire.WireError(f"no kept object number {number}")
            return self.objects[number]
        if "cb" in node:
            return _Callback(self, int(node["cb"]), str(node.get("name") or "callback"))
        if "m" in node:
            return sys.modules.get(str(node["m"]))
        raise wire.WireError("unexpected node")

    def encoder(self) -> wire.Encoder:
        return wire.Encoder(self.table, self.keep)

    def decoder(self, arrays: dict[str, np.ndarray]) -> wire.Decoder:
        return wire.Decoder(self.table, arrays, self.resolve)


class _Callback:
    """Stands in for a function of the hidden test; calling it asks the trusted side."""

    def __init__(self, session: _Session, number: int, name: str) -> None:
        self.session = session
        self.number = number
        self.__name__ = name

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        session = self.session
        session.callbacks += 1
        seq = session.callbacks
        encoder = session.encoder()
        meta = {
            "cb": self.number,
            "args": encoder.encode(list(args)),
            "kwargs": encoder.encode(kwargs),
        }
        _write(session.out_dir, f"cb-{seq}.npz", wire.pack(meta, encoder.finish()))
        if _DOORBELL is None or not _DOORBELL.ask(seq):
            raise CallbackError(f"the grader did not evaluate {self.__name__}")
        reply, arrays = wire.unpack(_read(session.in_dir, f"cbr-{seq}.npz"))
        decoder = session.decoder(arrays)
        if not reply.get("ok"):
            error = reply.get("error", {})
            decoder.apply_rest()
            raise CallbackError(f"{error.get('type', 'Error')}: {error.get('message', '')}")
        value = decoder.decode(reply.get("value"))
        decoder.apply_rest()
        return value


_CURRENT: _Session | None = None


def _write(folder: str, name: str, data: bytes) -> None:
    temporary = os.path.join(folder, f".{name}.part")
    with open(temporary, "wb") as fh:
        fh.write(data)
    os.replace(temporary, os.path.join(folder, name))


def _read(folder: str, name: str) -> bytes:
    with open(os.path.join(folder, name), "rb") as fh:
        return fh.read()


def _user_namespace() -> dict[str, Any]:
    from IPython import get_ipython

    return get_ipython().user_ns


def is_memory_error(name: str, message: str) -> bool:
    """Whether an exception of type ``name`` with ``message`` reports an allocation failure."""
    return name in MEMORY_ERRORS or (
        name == "RuntimeError" and TORCH_CPU_OUT_OF_MEMORY in message
    )


def _describe_error(exc: BaseException) -> dict[str, Any]:
    kind = type(exc)
    message = str(exc)[:2000]
    return {
        "type": kind.__name__,
        "module": kind.__module__,
        "message": message,
        "memory": is_memory_error(kind.__name__, message) or isinstance(exc, MemoryError),
    }


def _call(session: _Session, request: dict[str, Any], decoder: wire.Decoder) -> Any:
    target = decoder.decode(request["target"])
    args = decoder.decode(request.get("args", {"l": []}))
    kwargs = decoder.decode(request.get("kwargs", {"d": []}))
    decoder.apply_rest()
    name = getattr(target, "__name__", None) or type(target).__name__
    if request.get("own"):
        if not isinstance(target, types.FunctionType):
            raise DelegationError(f"{name} should be a function you define in this notebook")
        if target.__module__ != "__main__":
            raise DelegationError(
                f"{name} comes from {target.__module__}, not from your notebook: define it yourself"
            )
    prefixes = request.get("block")
    direct = request.get("block_direct")  # forbid_direct of own(): blocked in the notebook's code
    blocked: contextlib.AbstractContextManager[Any] = contextlib.nullcontext()
    if prefixes is not None or direct:
        namespace = getattr(target, "__globals__", None)
        if not isinstance(namespace, dict):
            namespace = _user_namespace()
        blocked = _references_blocked(str(name), namespace, tuple(prefixes or ()), direct)
    errstate = request.get("errstate") or {}
    with blocked, np.errstate(**{k: v for k, v in errstate.items() if k in _ERRSTATE_KEYS}):
        operation = request["op"]
        if operation == "call":
            return target(*args, **kwargs)
        if operation == "iter":
            return list(target)
        if operation == "getattr":
            return getattr(target, str(args[0]))
        if operation == "getitem":
            return target[args[0]]
        if operation == "len":
            return len(target)
        if operation == "bool":
            return bool(target)
        if operation == "repr":
            return repr(target)[:2000]
        raise ValueError(f"unknown operation {operation!r}")


_ERRSTATE_KEYS = ("divide", "over", "under", "invalid")


def _lookup(names: list[str]) -> dict[str, Any]:
    namespace = _user_namespace()
    return {name: namespace[name] for name in names if name in namespace}


def serve(in_dir: str, out_dir: str, seq: int) -> None:
    """Answer request ``seq``: read it from ``in_dir``, write the reply into ``out_dir``."""
    global _CURRENT
    request, arrays = wire.unpack(_read(in_dir, f"req-{seq}.npz"))
    ident = str(request.get("session"))
    if _CURRENT is None or _CURRENT.ident != ident:
        _CURRENT = _Session(ident, in_dir, out_dir)
    session = _CURRENT
    decoder = session.decoder(arrays)
    try:
        if request["op"] == "lookup":
            decoder.apply_rest()
            value: Any = _lookup(list(request.get("names", [])))
        else:
            value = _call(session, request, decoder)
        encoder = session.encoder()
        reply = {"ok": True, "value": encoder.encode(value)}
    except BaseException as exc:  # the student's code may raise anything, SystemExit included
        if isinstance(exc, KeyboardInterrupt):
            raise
        encoder = session.encoder()
        reply = {"ok": False, "error": _describe_error(exc)}
    try:
        data = wire.pack(reply, encoder.finish())
    except wire.WireError as exc:
        encoder = session.encoder()
        data = wire.pack({"ok": False, "error": _describe_error(exc)}, encoder.finish())
    _write(out_dir, f"rep-{seq}.npz", data)


class _Doorbell:
    """This kernel's end of the grader's socket: requests in, "answered" lines out."""

    def __init__(self, sock: socket.socket, inbox: str, outbox: str) -> None:
        self.sock = sock
        self.inbox = inbox
        self.outbox = outbox
        self.buffer = b""

    def _lines(self, data: bytes) -> list[tuple[bytes, int]]:
        """Complete lines received so far, as (kind, number); other lines are skipped."""
        self.buffer += data
        lines = []
        while b"\n" in self.buffer:
            line, self.buffer = self.buffer.split(b"\n", 1)
            parsed = parse_line(line)
            if parsed is not None:
                lines.append(parsed)
        if len(self.buffer) > MAX_LINE:
            self.buffer = b""
        return lines

    def readable(self, fd: int, events: int) -> None:
        """Event-loop handler: serve each request that arrived (the kernel is idle)."""
        try:
            data = self.sock.recv(1 << 16)
        except OSError:
            data = b""
        if not data:  # the grader is gone
            from tornado.ioloop import IOLoop

            IOLoop.current().remove_handler(fd)
            return
        for kind, seq in self._lines(data):
            if kind != b"R":
                continue
            try:
                serve(self.inbox, self.outbox, seq)
            finally:
                self.sock.sendall(b"D %d\n" % seq)

    def ask(self, number: int) -> bool:
        """Announce callback request ``number``; wait until the grader answered it (or not)."""
        self.sock.sendall(b"C %d\n" % number)
        while True:
            data = self.sock.recv(1 << 16)
            if not data:
                return False
            for kind, seq in self._lines(data):
                if seq == number and kind in (b"A", b"X"):
                    return kind == b"A"


_DOORBELL: _Doorbell | None = None


def register(fd: int, inbox: str, outbox: str) -> None:
    """Open the kernel to hidden-test calls: serve requests arriving on socket ``fd``."""
    global _DOORBELL
    from tornado.ioloop import IOLoop

    sock = socket.socket(fileno=fd)
    sock.setblocking(True)
    _DOORBELL = _Doorbell(sock, inbox, outbox)
    IOLoop.current().add_handler(sock.fileno(), _DOORBELL.readable, IOLoop.READ)
