"""Values that cross the sandbox boundary as data: an ``.npz`` archive, never a pickle.

Both sides of a hidden-test call use this module: the trusted grader process and the student's
kernel (which imports it read-only from the sandbox). A message is a JSON tree stored as the
archive member ``__meta__`` plus numpy arrays stored as the other members. The trusted side
decodes with ``allow_pickle=False`` and with limits on size, member count, nesting and nodes,
so whatever the kernel writes can at worst be rejected, never executed or let grow unbounded.

Tree nodes (JSON):

- ``null``, ``true``/``false``, ints, floats (also NaN and infinities) and strings as themselves;
- ``{"c": [re, im]}`` complex, ``{"b": key}`` bytes (a uint8 member);
- ``{"t": [...]}`` tuple, ``{"l": [...]}`` list, ``{"set": [...]}`` set,
  ``{"d": [[key, value], ...]}`` dict;
- ``{"a": token, "ro": bool}`` an array; its content travels as member ``token`` whenever it is
  new or changed (see :class:`ArrayTable`), so both sides keep one array per token and in-place
  changes on either side reach the other at the next message;
- ``{"a": token, "ro": false, "torch": dtype}`` a PyTorch tensor: an array node whose member
  holds the tensor's data, marked so that it arrives as a ``torch.Tensor`` of that dtype (see
  "Tensors" below);
- ``{"s": key}`` a numpy scalar (a 0-d member);
- ``{"r": id, ...}`` an object that stays in the kernel (a function, a cache, a model);
- ``{"cb": id, "name": ...}`` a function of the trusted side that the kernel may call back;
- ``{"m": name}`` a module, by name.

Tensors. A CPU tensor of a dtype numpy has (float16/32/64, complex64/128, uint8, int8/16/32/64,
bool) crosses as a numpy view of its memory, so it keeps its dtype, shape and identity like an
array, and in-place changes travel both ways; bfloat16 travels as float32 (exactly) and is cast
back. What arrives is always a plain ``torch.Tensor`` without gradient: ``requires_grad`` and the
autograd graph stay behind, a ``Parameter`` or any other subclass (also one that overrides
``__torch_function__`` or ``__eq__``) arrives as a plain tensor holding its data. A tensor on
another device (CUDA, MPS) crosses as a copy on the CPU: what arrives is a CPU tensor, and
in-place changes of the device tensor made after it crossed are not seen. Tensors without
plain data (sparse, quantized, nested, meta) or of other dtypes are refused with a message
saying how to convert them. Neither side imports torch for this: a value can only be a tensor
if torch is loaded already. A side that receives a tensor needs torch: the trusted side imports
it then (:class:`ArrayTable` with ``import_torch=True``), the student's kernel refuses the value
unless the notebook has imported torch itself.
"""

from __future__ import annotations

import importlib
import io
import json
import sys
import zipfile
from collections.abc import Callable
from typing import Any

import numpy as np

META = "__meta__"
MAX_BYTES = 256 * 1024**2  # one message, compressed or not; also the kernel's file-size limit
MAX_MEMBERS = 20_000
MAX_META_BYTES = 16 * 1024**2
MAX_DEPTH = 40
MAX_NODES = 1_000_000


class WireError(ValueError):
    """A message that is not a valid, bounded ``.npz`` of plain data."""


def pack(meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> bytes:
    """Serialise ``meta`` (JSON-able) and ``arrays`` (no object dtypes) to ``.npz`` bytes."""
    for key, array in arrays.items():
        if array.dtype.hasobject:
            raise WireError(f"array {key} holds Python objects; only plain numeric data can cross")
    buffer = io.BytesIO()
    np.savez(buffer, **{META: np.array(json.dumps(meta))}, **arrays)
    data = buffer.getvalue()
    if len(data) > MAX_BYTES:
        raise WireError(f"message of {len(data)} bytes exceeds the limit of {MAX_BYTES}")
    return data


def unpack(data: bytes) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Parse ``.npz`` bytes written by :func:`pack`, refusing anything unbounded or pickled."""
    if len(data) > MAX_BYTES:
        raise WireError(f"message of {len(data)} bytes exceeds the limit of {MAX_BYTES}")
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            infos = archive.infolist()
            if len(infos) > MAX_MEMBERS:
                raise WireError(f"message has {len(infos)} members (limit {MAX_MEMBERS})")
            if sum(info.file_size for info in infos) > MAX_BYTES:
                raise WireError("message expands beyond the size limit")
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            if META not in npz.files:
                raise WireError("message has no __meta__ member")
            text = npz[META]
            if text.dtype.kind != "U" or text.shape != () or text.nbytes > 4 * MAX_META_BYTES:
                raise WireError("__meta__ is not one bounded string")
            meta = json.loads(str(text[()]))
            arrays = {key: npz[key] for key in npz.files if key != META}
    except WireError:
        raise
    except Exception as exc:  # bad zip, bad npy header, pickled member, bad JSON, recursion...
        raise WireError(f"unreadable message ({type(exc).__name__}: {exc})") from exc
    if not isinstance(meta, dict):
        raise WireError("__meta__ is not a JSON object")
    return meta, arrays


# Tensor dtypes that cross, by name; each travels as the numpy dtype of the same name, except
# bfloat16 (numpy has none), which travels as float32 and is cast back on arrival.
TENSOR_DTYPES = (
    "float16", "bfloat16", "float32", "float64", "complex64", "complex128",
    "uint8", "int8", "int16", "int32", "int64", "bool",
)


def _tensor_type() -> type | None:
    """``torch.Tensor`` if this process has imported torch, else None (never imports it)."""
    torch = sys.modules.get("torch")
    tensor = getattr(torch, "Tensor", None) if torch is not None else None
    return tensor if isinstance(tensor, type) else None


def tensor_data(tensor: Any) -> tuple[np.ndarray, str]:
    """The data of a tensor as a numpy array (a view of its memory where possible) + dtype name.

    Gradients are dropped, a subclass is read as a plain tensor (its ``__torch_function__`` is
    not consulted), a tensor on another device is copied to the CPU. Raises :class:`WireError`
    for tensors without plain data or of a dtype that cannot cross.
    """
    torch = sys.modules["torch"]
    try:
        # A subclass's __torch_function__ would answer even .dtype; read the plain tensor.
        with torch._C.DisableTorchFunctionSubclass():
            plain = torch.Tensor.detach(tensor)
    except Exception as exc:
        raise WireError(f"the tensor cannot be read ({type(exc).__name__}: {exc})") from exc
    name = str(plain.dtype).removeprefix("torch.")
    if name not in TENSOR_DTYPES:
        raise WireError(
            f"a torch.{name} tensor cannot cross to the other side; convert it first "
            "(for instance with .float() or .long())"
        )
    if plain.layout != torch.strided or plain.is_quantized or plain.is_nested:
        raise WireError(
            f"a tensor with layout {plain.layout} cannot cross to the other side; convert it "
            "to a dense tensor first (.to_dense() or .dequantize())"
        )
    if plain.device.type == "meta":
        raise WireError("a tensor on the meta device has no data to send")
    try:
        if name == "bfloat16":
            plain = plain.float()
        array = plain.numpy(force=True)  # on the CPU, no conj/neg bits; shares memory if it can
    except Exception as exc:
        raise WireError(f"the tensor's data cannot be read ({type(exc).__name__}: {exc})") from exc
    if type(array) is not np.ndarray or array.dtype.hasobject:
        raise WireError("the tensor's data is not a plain array")
    return array, name


class ArrayTable:
    """The arrays one side has sent or received, by token, with a snapshot of each.

    An array crossing the boundary gets a token (``prefix`` + a number); the same object sent
    again reuses its token. :meth:`changed` lists the tokens whose array differs from the
    snapshot taken when it last crossed, so every message can carry the in-place changes made
    since the previous one.

    A tensor gets a token too: its array is a view of the tensor's memory (the sending side) or
    the memory a received tensor is built on (the receiving side), so tensors keep their
    identity and in-place changes exactly as arrays do. ``import_torch`` says whether this side
    may import torch to build a tensor that arrives (the trusted side) or needs the notebook to
    have imported it (the student's kernel, which must not pay for torch it does not use).
    """

    def __init__(self, prefix: str, import_torch: bool = False) -> None:
        self.prefix = prefix
        self.import_torch = import_torch
        self.arrays: dict[str, np.ndarray] = {}
        self.snapshots: dict[str, bytes] = {}
        self.shapes: dict[str, tuple[tuple[int, ...], str]] = {}
        self.tokens: dict[int, str] = {}  # id(array) -> token; the table keeps arrays alive
        # token -> (tensor, array it was built on or read from, dtype name); id(tensor) -> token
        self.tensors: dict[str, tuple[Any, np.ndarray, str]] = {}
        self.tensor_tokens: dict[int, str] = {}
        self._count = 0

    def _new_token(self) -> str:
        self._count += 1
        return f"{self.prefix}{self._count}"

    def token_of(self, array: np.ndarray) -> tuple[str, bool]:
        """(token, is_new) for ``array``."""
        token = self.tokens.get(id(array))
        if token is not None and self.arrays[token] is array:
            return token, False
        token = self._new_token()
        self.adopt(token, array)
        return token, True

    def tensor_token(self, tensor: Any) -> tuple[str, str]:
        """(token, dtype name) for a tensor to send; its data is tracked like an array's."""
        token = self.tensor_tokens.get(id(tensor))
        if token is not None:
            known, array, name = self.tensors[token]
            if known is tensor and self.arrays.get(token) is array:
                return token, name
        array, name = tensor_data(tensor)
        token = self._new_token()
        self.adopt(token, array)
        self._remember_tensor(token, tensor, array, name)
        return token, name

    def _remember_tensor(self, token: str, tensor: Any, array: np.ndarray, name: str) -> None:
        old = self.tensors.get(token)
        if old is not None:
            self.tensor_tokens.pop(id(old[0]), None)
        self.tensors[token] = (tensor, array, name)
        self.tensor_tokens[id(tensor)] = token

    def tensor_at(self, token: str, name: str) -> Any:
        """The tensor behind ``token`` (received as dtype ``name``), built on its array."""
        if name not in TENSOR_DTYPES:
            raise WireError(f"unknown tensor dtype {str(name)[:40]!r}")
        array = self.arrays[token]
        expected = "float32" if name == "bfloat16" else name
        if array.dtype != np.dtype(expected):
            raise WireError(f"a {name} tensor arrived with {array.dtype} data")
        known = self.tensors.get(token)
        if known is not None:
            tensor, source, known_name = known
            if source is array and known_name == name and tuple(tensor.shape) == array.shape:
                return tensor
        torch = sys.modules.get("torch")
        if torch is None:
            if not self.import_torch:
                raise WireError(
                    "a torch tensor arrived, but this notebook has not imported torch"
                )
            torch = importlib.import_module("torch")
        if not array.flags.writeable:
            array = np.array(array, copy=True)  # a tensor cannot be read-only; keep ours intact
        tensor = torch.from_numpy(array)
        if name == "bfloat16":
            tensor = tensor.to(torch.bfloat16)
        self._remember_tensor(token, tensor, self.arrays[token], name)
        return tensor

    def adopt(self, token: str, array: np.ndarray) -> None:
        """Record ``array`` under ``token`` (a new array from the other side, or our own)."""
        old = self.arrays.get(token)
        if old is not None:
            self.tokens.pop(id(old), None)
        self.arrays[token] = array
        self.tokens[id(array)] = token
        self.mark_synced(token)

    def mark_synced(self, token: str) -> None:
        array = self.arrays[token]
        self.snapshots[token] = array.tobytes()
        self.shapes[token] = (array.shape, array.dtype.str)

    def changed(self) -> list[str]:
        return [
            token
            for token, array in self.arrays.items()
            if (array.shape, array.dtype.str) != self.shapes[token]
            or array.tobytes() != self.snapshots[token]
        ]

    def receive(self, token: str, content: np.ndarray, read_only: bool = False) -> np.ndarray:
        """Apply content for ``token`` from the other side; return the array now behind it.

        A known array is updated in place (so every alias of it sees the change, as it would
        had both sides shared memory); one that cannot be (other dtype or size, a read-only
        view) is replaced by a fresh array under the same token.
        """
        array = self.arrays.get(token)
        if array is not None and array.dtype == content.dtype and array.size == content.size:
            try:
                if array.shape != content.shape:
                    array.shape = content.shape  # reshaped in place on the other side
                if array.flags.writeable:
                    np.copyto(array, content)
                else:
                    array.setflags(write=True)
                    np.copyto(array, content)
                    array.setflags(write=False)
            except (AttributeError, ValueError):
                pass
            else:
                self.mark_synced(token)
                return array
        fresh = np.array(content, copy=True)
        if read_only:
            fresh.setflags(write=False)
        self.adopt(token, fresh)
        return fresh


def _plain_scalar(value: Any) -> Any:
    """Python numbers and strings (and their subclasses) as plain values, else a sentinel."""
    if value is None or type(value) in (bool, int, float, str):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, str):
        return str.__str__(value)
    return _NOT_PLAIN


_NOT_PLAIN = object()


class Encoder:
    """Turns a value into a JSON tree plus array members.

    ``table`` decides array tokens; ``other`` encodes anything that is not plain data (the
    kernel registers it as a reference, the trusted side as a callback) and returns a node.
    """

    def __init__(
        self, table: ArrayTable, other: Callable[[Any], dict[str, Any]], max_nodes: int = MAX_NODES
    ) -> None:
        self.table = table
        self.other = other
        self.arrays: dict[str, np.ndarray] = {}
        self.nodes = 0
        self.max_nodes = max_nodes
        self._scalars = 0

    def encode(self, value: Any, depth: int = 0) -> Any:
        self.nodes += 1
        if depth > MAX_DEPTH or self.nodes > self.max_nodes:
            raise WireError("the value is nested too deeply or has too many parts to send")
        plain = _plain_scalar(value)
        if plain is not _NOT_PLAIN:
            return plain
        if isinstance(value, complex):
            return {"c": [value.real, value.imag]}
        if isinstance(value, np.ndarray) and not value.dtype.hasobject:
            if type(value) is not np.ndarray:
                value = np.array(value)  # subclasses (matrix, memmap...) cross as plain arrays
            token, _ = self.table.token_of(value)
            self.arrays[token] = value
            return {"a": token, "ro": not value.flags.writeable}
        if isinstance(value, np.generic) and not isinstance(value, np.object_):
            self._scalars += 1
            key = f"s{self._scalars}"
            self.arrays[key] = np.asarray(value)
            return {"s": key}
        if isinstance(value, (bytes, bytearray)):
            self._scalars += 1
            key = f"b{self._scalars}"
            self.arrays[key] = np.frombuffer(bytes(value), dtype=np.uint8)
            return {"b": key}
        if isinstance(value, tuple):
            return {"t": [self.encode(v, depth + 1) for v in tuple.__iter__(value)]}
        if isinstance(value, list):
            return {"l": [self.encode(v, depth + 1) for v in list.__iter__(value)]}
        if isinstance(value, (set, frozenset)):
            return {"set": [self.encode(v, depth + 1) for v in value]}
        if isinstance(value, dict):
            return {
                "d": [
                    [self.encode(k, depth + 1), self.encode(v, depth + 1)]
                    for k, v in dict.items(value)
                ]
            }
        tensor = _tensor_type()  # only where torch is loaded already
        if tensor is not None and isinstance(value, tensor):
            token, name = self.table.tensor_token(value)
            self.arrays[token] = self.table.arrays[token]
            return {"a": token, "ro": False, "torch": name}
        return self.other(value)

    def finish(self) -> dict[str, np.ndarray]:
        """Array members to send: every array encoded, plus every tracked array that changed."""
        for token in self.table.changed():
            self.arrays.setdefault(token, self.table.arrays[token])
        for token in self.arrays:
            if token in self.table.arrays:
                self.table.mark_synced(token)
        return self.arrays


class Decoder:
    """Turns a JSON tree plus array members back into values.

    Array contents are applied to ``table`` as their nodes are decoded, and the rest (in-place
    changes of arrays not in this value) by :meth:`apply_rest`; ``other`` turns ``r``, ``cb``
    and ``m`` nodes into objects of the receiving side.
    """

    def __init__(
        self,
        table: ArrayTable,
        arrays: dict[str, np.ndarray],
        other: Callable[[dict[str, Any]], Any],
    ) -> None:
        self.table = table
        self.members = arrays
        self.other = other
        self.nodes = 0
        self._applied: set[str] = set()

    def _take(self, token: str, read_only: bool = False) -> None:
        if token not in self._applied and token in self.members:
            self._applied.add(token)
            self.table.receive(token, self.members[token], read_only)

    def apply_rest(self) -> None:
        """Take the array contents no decoded node named (in-place changes on the other side)."""
        for key in self.members:
            if key[:1] in ("h", "k"):
                self._take(key)

    def decode(self, node: Any, depth: int = 0) -> Any:
        self.nodes += 1
        if depth > MAX_DEPTH or self.nodes > MAX_NODES:
            raise WireError("the value is nested too deeply or has too many parts")
        if node is None or type(node) in (bool, int, float, str):
            return node
        if isinstance(node, list) or not isinstance(node, dict) or len(node) == 0:
            raise WireError(f"unexpected node {str(node)[:80]!r}")
        if "a" in node:
            token = node["a"]
            tensor = node.get("torch")
            if isinstance(token, str) and token[:1] in ("h", "k"):
                self._take(token, bool(node.get("ro")) and tensor is None)
            if not isinstance(token, str) or token not in self.table.arrays:
                raise WireError(f"unknown array token {str(token)[:40]!r}")
            if tensor is not None:
                return self.table.tensor_at(token, str(tensor))
            return self.table.arrays[token]
        if "s" in node or "b" in node:
            key = node.get("s", node.get("b"))
            member = self.members.get(key) if isinstance(key, str) else None
            if member is None:
                raise WireError("missing scalar member")
            if "b" in node:
                return member.astype(np.uint8).tobytes()
            if member.shape != ():
                raise WireError("a scalar member is not 0-d")
            return member[()]
        if "c" in node:
            re, im = node["c"]
            return complex(float(re), float(im))
        if "t" in node:
            return tuple(self.decode(v, depth + 1) for v in self._items(node["t"]))
        if "l" in node:
            return [self.decode(v, depth + 1) for v in self._items(node["l"])]
        if "set" in node:
            return {self.decode(v, depth + 1) for v in self._items(node["set"])}
        if "d" in node:
            out = {}
            for pair in self._items(node["d"]):
                if not isinstance(pair, list) or len(pair) != 2:
                    raise WireError("a dict entry is not a [key, value] pair")
                out[self.decode(pair[0], depth + 1)] = self.decode(pair[1], depth + 1)
            return out
        if "r" in node or "cb" in node or "m" in node:
            return self.other(node)
        raise WireError(f"unexpected node with keys {sorted(node)[:5]}")

    @staticmethod
    def _items(items: Any) -> list[Any]:
        if not isinstance(items, list):
            raise WireError("a container node does not hold a list")
        return items
