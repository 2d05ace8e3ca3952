"""Helpers that hidden tests import: ``call_own``, ``own``, ``expect_tensor``, ``state_dict_size``.

``call_own(fn, *args)`` calls a graded function while the course's reference implementations
(``i2dl``'s layers, losses, optimisers...) and PyTorch are out of reach, so a function that hands
its work to them fails with a message saying so instead of scoring points for someone else's code.

The rules and the blocking machinery live in :mod:`i2dl.ownership`, the student-side half, which
notebooks may import in their visible checks (the student bundle ships ``i2dl``, not ``grader``);
:class:`DelegationError`, ``FORBIDDEN_PREFIXES`` and ``DEFAULT_ADVICE`` are the same objects here
and there. This module adds what only the trusted grader needs. The same hidden test runs in
three situations:

- in the trusted grader process (:mod:`grader.remote`), ``fn`` a proxy for the student's
  function: the call, with the references blocked, happens in the student's kernel
  (:mod:`grader.kernel_side` applies the rules with :func:`i2dl.ownership.references_blocked`);
- in the trusted grader process, ``fn`` a function of the hidden test itself (hidden mode): it
  runs here, and every call it makes into the student's kernel carries the rules;
- in Jupyter, when an instructor runs a solution notebook: ``fn`` is the function itself and
  :func:`i2dl.ownership.own` blocks and calls it directly.

``own(fn, forbid_direct={"i2dl.nn.init": "use your own he_init"})`` blocks reference code only
where the student's code reaches it, for code the library itself needs (the constructor of
``i2dl.nn.Linear`` draws its weights with ``i2dl.nn.init``); see :mod:`i2dl.ownership`. This
catches ordinary use, not deliberate evasion (``importlib.import_module``, ``sys.modules``).

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
from collections.abc import Callable, Mapping
from typing import Any

from i2dl import ownership
from i2dl.ownership import DEFAULT_ADVICE, FORBIDDEN_PREFIXES, DelegationError

__all__ = [
    "DEFAULT_ADVICE",
    "FORBIDDEN_PREFIXES",
    "DelegationError",
    "call_own",
    "current_block",
    "current_block_direct",
    "describe",
    "enter_hidden_mode",
    "expect_tensor",
    "leave_hidden_mode",
    "own",
    "state_dict_size",
]

# Set while the trusted grader runs a hidden region; holds the prefixes to block in the
# student's code called from a hidden test's own function wrapped by ``own`` (None: none).
_HIDDEN_MODE: contextvars.ContextVar[bool] = contextvars.ContextVar("i2dl_hidden", default=False)
_BLOCK: contextvars.ContextVar[tuple[str, ...] | None] = contextvars.ContextVar(
    "i2dl_block", default=None
)
_BLOCK_DIRECT: contextvars.ContextVar[dict[str, str] | None] = contextvars.ContextVar(
    "i2dl_block_direct", default=None
)


def enter_hidden_mode() -> contextvars.Token:
    return _HIDDEN_MODE.set(True)


def leave_hidden_mode(token: contextvars.Token) -> None:
    _HIDDEN_MODE.reset(token)


def current_block() -> tuple[str, ...] | None:
    """Prefixes the student's code must not reach right now (trusted side), or None."""
    return _BLOCK.get()


def current_block_direct() -> dict[str, str] | None:
    """``forbid_direct`` of the ``own`` call running now (trusted side), or None."""
    return _BLOCK_DIRECT.get()


def own(
    fn: Callable[..., Any],
    *,
    forbid: tuple[str, ...] = (),
    allow: tuple[str, ...] = (),
    forbid_direct: Mapping[str, str] | tuple[str, ...] = (),
) -> Callable[..., Any]:
    """Wrap a graded function so that calling it blocks the reference implementations.

    The arguments are those of :func:`i2dl.ownership.own`: ``forbid`` adds module prefixes to
    block (e.g. ``("i2dl.gradcheck",)`` where the exercise grades numerical gradients);
    ``allow`` removes some (e.g. ``("i2dl.layers",)`` where the exercise builds on layers graded
    earlier); ``forbid_direct`` blocks dotted paths (``{"i2dl.nn.init": "use your own
    he_init"}``) only where the notebook's own code reaches them. The wrapper fails
    (``DelegationError``, an ``AssertionError``) when ``fn`` is not a function defined in the
    notebook itself, or when it reaches a blocked module. In the grader the rules travel to the
    student's kernel with the call; elsewhere :func:`i2dl.ownership.own` applies them here.
    """
    prefixes, direct = ownership.blocking_rules(forbid, allow, forbid_direct)
    if getattr(type(fn), "_i2dl_remote", False):
        # The trusted grader: fn lives in the student's kernel, which makes the call.
        def remote_call(*args: Any, **kwargs: Any) -> Any:
            return fn._i2dl_call(args, kwargs, own=True, block=prefixes, direct=direct)

        return remote_call
    if _HIDDEN_MODE.get():
        # The trusted grader, fn a function of the hidden test: run it here, and block the
        # references in every call it makes into the student's code.
        def blocking_call(*args: Any, **kwargs: Any) -> Any:
            token = _BLOCK.set(prefixes)
            direct_token = _BLOCK_DIRECT.set(direct)
            try:
                return fn(*args, **kwargs)
            finally:
                _BLOCK_DIRECT.reset(direct_token)
                _BLOCK.reset(token)

        return blocking_call
    return ownership.own(fn, forbid=forbid, allow=allow, forbid_direct=forbid_direct)


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
