"""Helpers that hidden tests import: ``call_own`` and ``own``.

``call_own(fn, *args)`` calls a graded function while the course's reference implementations
(``i2dl``'s layers, losses, optimisers...) and PyTorch are out of reach, so a function that hands
its work to them fails with a message saying so instead of scoring points for someone else's code.

The same hidden test runs in two places. When the grader grades, it runs in the trusted grader
process (:mod:`grader.remote`) and ``fn`` is a proxy for the student's function: the call, with
the references blocked, happens in the student's kernel. When an instructor runs a solution
notebook in Jupyter, it runs in that kernel and ``fn`` is the function itself.

PyTorch exercises grade code that is meant to use torch: wrap it with
``own(fn, allow=("torch",))``, which still blocks ``i2dl``'s reference implementations. Their
models, optimisers and loaders are objects, not functions: hidden tests call them directly
(``model(X)``; in the grader a proxy makes the call in the kernel), check what came back with
:func:`expect_tensor` and count parameters from the returned ``state_dict`` with
:func:`state_dict_size`, both on the trusted side. This module never imports torch itself
unless one of those two helpers is called.
"""

from __future__ import annotations

import contextvars
import sys
import types
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

# Module prefixes whose functions a numpy exercise must not call from the graded code.
FORBIDDEN_PREFIXES = ("torch", "i2dl.layers", "i2dl.losses", "i2dl.optim", "i2dl.nn")


class DelegationError(AssertionError):
    """Raised when graded code reaches for a reference implementation."""


# Set while the trusted grader runs a hidden region; holds the prefixes to block in the
# student's code called from a hidden test's own function wrapped by ``own`` (None: none).
_HIDDEN_MODE: contextvars.ContextVar[bool] = contextvars.ContextVar("i2dl_hidden", default=False)
_BLOCK: contextvars.ContextVar[tuple[str, ...] | None] = contextvars.ContextVar(
    "i2dl_block", default=None
)


def enter_hidden_mode() -> contextvars.Token:
    return _HIDDEN_MODE.set(True)


def leave_hidden_mode(token: contextvars.Token) -> None:
    _HIDDEN_MODE.reset(token)


def current_block() -> tuple[str, ...] | None:
    """Prefixes the student's code must not reach right now (trusted side), or None."""
    return _BLOCK.get()


def _matches(name: str | None, prefixes: tuple[str, ...]) -> bool:
    return bool(name) and any(name == p or name.startswith(p + ".") for p in prefixes)


def _origin(obj: Any) -> str | None:
    if isinstance(obj, types.ModuleType):
        return obj.__name__
    if isinstance(obj, type) and issubclass(obj, BaseException):
        return None  # exception classes stay usable in `except` clauses
    return getattr(obj, "__module__", None) if callable(obj) else None


class _Blocked:
    """Stands in for a forbidden module, function or class: any use raises ``DelegationError``."""

    def __init__(self, what: str, caller: str) -> None:
        object.__setattr__(self, "_what", what)
        object.__setattr__(self, "_caller", caller)

    def _fail(self, *_args: Any, **_kwargs: Any) -> Any:
        raise DelegationError(
            f"{self._caller} uses {self._what}; this exercise grades your own implementation, "
            "so write it with numpy instead of calling the course's reference or PyTorch"
        )

    __call__ = _fail

    def __getattr__(self, _name: str) -> Any:
        self._fail()


class _RefuseImports:
    """A meta-path finder that refuses to load a blocked module that is not loaded yet."""

    def __init__(self, prefixes: tuple[str, ...], caller: str) -> None:
        self.prefixes = prefixes
        self.caller = caller

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> None:
        if _matches(fullname, self.prefixes):
            _Blocked(fullname, self.caller)()


@contextmanager
def _references_blocked(
    fn_name: str, fn_globals: dict[str, Any], prefixes: tuple[str, ...]
) -> Iterator[None]:
    saved: list[tuple[dict[str, Any], str, Any]] = []

    def block(namespace: dict[str, Any], name: str, what: str) -> None:
        saved.append((namespace, name, namespace[name]))
        namespace[name] = _Blocked(what, fn_name)

    finder = _RefuseImports(prefixes, fn_name)
    sys.meta_path.insert(0, finder)
    try:
        for name, value in list(fn_globals.items()):
            if _matches(_origin(value), prefixes):
                block(fn_globals, name, f"{_origin(value)}.{getattr(value, '__name__', name)}")
        for mod_name, module in list(sys.modules.items()):
            if module is None:
                continue
            if _matches(mod_name, prefixes) and not mod_name.startswith("i2dl"):
                # `import torch` inside the graded function must not succeed either.
                block(sys.modules, mod_name, mod_name)
            elif mod_name.startswith("i2dl"):
                # i2dl stays importable (data helpers live there), but reference functions and
                # classes, including re-exports such as i2dl.testing.rel_error, are blocked.
                namespace = vars(module)
                for attr, value in list(namespace.items()):
                    if not attr.startswith("_") and _matches(_origin(value), prefixes):
                        block(namespace, attr, f"{mod_name}.{attr}")
        yield
    finally:
        sys.meta_path.remove(finder)
        for namespace, name, value in reversed(saved):
            namespace[name] = value


def own(
    fn: Callable[..., Any], *, forbid: tuple[str, ...] = (), allow: tuple[str, ...] = ()
) -> Callable[..., Any]:
    """Wrap a graded function so that calling it blocks the reference implementations.

    ``forbid`` adds module prefixes to block (e.g. ``("i2dl.gradcheck",)`` where the exercise
    grades numerical gradients); ``allow`` removes some (e.g. ``("i2dl.layers",)`` where the
    exercise builds on layers graded earlier). The wrapper fails (``AssertionError``) when
    ``fn`` is not a function defined in the notebook itself, or when it reaches a blocked module.
    """
    prefixes = tuple(p for p in FORBIDDEN_PREFIXES if p not in allow) + tuple(forbid)
    if getattr(type(fn), "_i2dl_remote", False):
        # The trusted grader: fn lives in the student's kernel, which makes the call.
        def remote_call(*args: Any, **kwargs: Any) -> Any:
            return fn._i2dl_call(args, kwargs, own=True, block=prefixes)

        return remote_call
    if _HIDDEN_MODE.get():
        # The trusted grader, fn a function of the hidden test: run it here, and block the
        # references in every call it makes into the student's code.
        def blocking_call(*args: Any, **kwargs: Any) -> Any:
            token = _BLOCK.set(prefixes)
            try:
                return fn(*args, **kwargs)
            finally:
                _BLOCK.reset(token)

        return blocking_call
    name = getattr(fn, "__name__", repr(fn))

    def call(*args: Any, **kwargs: Any) -> Any:
        if not isinstance(fn, types.FunctionType):
            raise DelegationError(f"{name} should be a function you define in this notebook")
        if fn.__module__ != "__main__":
            raise DelegationError(
                f"{name} comes from {fn.__module__}, not from your notebook: define it yourself"
            )
        with _references_blocked(name, fn.__globals__, prefixes):
            return fn(*args, **kwargs)

    return call


def call_own(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """``own(fn)(*args, **kwargs)``: call a graded function with the references blocked."""
    return own(fn)(*args, **kwargs)


def describe(value: Any) -> str:
    """A short description of a value for a failure message, never asking the student's code."""
    if getattr(type(value), "_i2dl_remote", False):
        info = object.__getattribute__(value, "_info")
        return f"a {info.get('type') or 'object'} object"
    return f"a {type(value).__qualname__}"


def _shape_text(shape: tuple[int | None, ...]) -> str:
    sizes = ["any" if n is None else str(n) for n in shape]
    return "(" + ", ".join(sizes) + ("," if len(sizes) == 1 else "") + ")"


def _kind_of(tensor: Any) -> str:
    if tensor.is_floating_point():
        return "floating"
    if tensor.is_complex():
        return "complex"
    return "bool" if str(tensor.dtype) == "torch.bool" else "integer"


_KIND_LABELS = {"floating": "a floating-point", "integer": "an integer", "bool": "a bool"}


def expect_tensor(
    value: Any, what: str, shape: tuple[int | None, ...] | None = None, kind: str | None = None
) -> Any:
    """Check that ``value`` is a ``torch.Tensor`` of ``shape`` and ``kind``; return it, detached.

    ``shape`` may hold None for a size that does not matter; ``kind`` is ``"floating"``,
    ``"integer"`` or ``"bool"``. A failed check raises ``AssertionError`` naming ``what``
    (e.g. ``"model(X)"``) and what was found, so a wrong result fails the test with a message
    instead of breaking the comparison after it. In the grader, tensors from the student's
    kernel arrive as plain tensors (data, no gradient); anything else arrives as a proxy and
    fails here.
    """
    import torch

    if not isinstance(value, torch.Tensor):
        raise AssertionError(f"{what} should be a torch.Tensor, got {describe(value)}")
    tensor = torch.Tensor.as_subclass(value.detach(), torch.Tensor)
    if shape is not None:
        found = tuple(tensor.shape)
        if len(found) != len(shape) or any(
            n is not None and n != m for n, m in zip(shape, found, strict=True)
        ):
            raise AssertionError(
                f"{what} has shape {found}, expected {_shape_text(tuple(shape))}"
            )
    if kind is not None and _kind_of(tensor) != kind:
        raise AssertionError(
            f"{what} is a {str(tensor.dtype).removeprefix('torch.')} tensor, "
            f"expected {_KIND_LABELS[kind]} tensor"
        )
    return tensor


def state_dict_size(state: Any, what: str = "model.state_dict()") -> int:
    """Number of values in a ``state_dict``: every element of every tensor in it.

    In the grader, ``model.state_dict()`` comes back from the kernel as a plain dict of tensors,
    so the count is taken here from the data, whatever the model's ``parameters()`` claim.
    Raises ``AssertionError`` when ``state`` is not a dict of str -> tensor.
    """
    import torch

    if not isinstance(state, dict):
        raise AssertionError(f"{what} should be a dict of tensors, got {describe(state)}")
    total = 0
    for key, value in state.items():
        if not isinstance(key, str):
            raise AssertionError(f"{what} should map names to tensors; a key is {describe(key)}")
        if not isinstance(value, torch.Tensor):
            raise AssertionError(
                f"{what} should map names to tensors; {key[:80]!r} maps to {describe(value)}"
            )
        total += int(value.numel())
    return total
