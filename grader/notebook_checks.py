"""Helpers that hidden tests import inside the student's kernel.

``call_own(fn, *args)`` calls a graded function while the course's reference implementations
(``i2dl``'s layers, losses, optimisers...) and PyTorch are out of reach, so a function that hands
its work to them fails with a message saying so instead of scoring points for someone else's code.
"""

from __future__ import annotations

import sys
import types
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

# Module prefixes whose functions a numpy exercise must not call from the graded code.
FORBIDDEN_PREFIXES = ("torch", "i2dl.layers", "i2dl.losses", "i2dl.optim", "i2dl.nn")


class DelegationError(AssertionError):
    """Raised when graded code reaches for a reference implementation."""


def _is_forbidden_name(name: str | None) -> bool:
    return bool(name) and any(
        name == prefix or name.startswith(prefix + ".") for prefix in FORBIDDEN_PREFIXES
    )


def _origin(obj: Any) -> str | None:
    if isinstance(obj, types.ModuleType):
        return obj.__name__
    return getattr(obj, "__module__", None) if callable(obj) else None


class _Blocked:
    """Stands in for a forbidden module or function: any use raises ``DelegationError``."""

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


@contextmanager
def _references_blocked(fn_name: str, fn_globals: dict[str, Any]) -> Iterator[None]:
    saved_globals: dict[str, Any] = {}
    saved_modules: dict[str, Any] = {}
    saved_attrs: list[tuple[types.ModuleType, str, Any]] = []
    try:
        for name, value in list(fn_globals.items()):
            origin = _origin(value)
            if _is_forbidden_name(origin):
                saved_globals[name] = value
                fn_globals[name] = _Blocked(f"{origin}.{getattr(value, '__name__', name)}", fn_name)
        for mod_name, module in list(sys.modules.items()):
            if not _is_forbidden_name(mod_name) or module is None:
                continue
            if mod_name.startswith("torch"):
                # `import torch` inside the graded function must not succeed either.
                saved_modules[mod_name] = module
                sys.modules[mod_name] = _Blocked(mod_name, fn_name)  # type: ignore[assignment]
            else:
                # i2dl reference modules stay importable (data helpers live next to them),
                # but their public functions are blocked while the graded code runs.
                for attr, value in list(vars(module).items()):
                    if callable(value) and not attr.startswith("_") and not isinstance(value, type):
                        saved_attrs.append((module, attr, value))
                        setattr(module, attr, _Blocked(f"{mod_name}.{attr}", fn_name))
        yield
    finally:
        fn_globals.update(saved_globals)
        sys.modules.update(saved_modules)
        for module, attr, value in saved_attrs:
            setattr(module, attr, value)


def call_own(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Call a graded function with the reference implementations blocked.

    Fails (``AssertionError``) when ``fn`` is not a function defined in the notebook itself, or
    when it calls i2dl's reference layers/losses/optimisers or PyTorch while it runs.
    """
    name = getattr(fn, "__name__", repr(fn))
    if not isinstance(fn, types.FunctionType):
        raise DelegationError(f"{name} should be a function you define in this notebook")
    if fn.__module__ != "__main__":
        raise DelegationError(
            f"{name} comes from {fn.__module__}, not from your notebook: define it yourself"
        )
    with _references_blocked(name, fn.__globals__):
        return fn(*args, **kwargs)
