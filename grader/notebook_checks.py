"""Helpers that hidden tests import: ``call_own`` and ``own``.

``call_own(fn, *args)`` calls a graded function while the course's reference implementations
(``i2dl``'s layers, losses, optimisers...) and PyTorch are out of reach, so a function that hands
its work to them fails with a message saying so instead of scoring points for someone else's code.

The same hidden test runs in two places. When the grader grades, it runs in the trusted grader
process (:mod:`grader.remote`) and ``fn`` is a proxy for the student's function: the call, with
the references blocked, happens in the student's kernel. When an instructor runs a solution
notebook in Jupyter, it runs in that kernel and ``fn`` is the function itself.

Some reference code cannot be blocked module-wide because the library itself needs it (the
constructor of ``i2dl.nn.Linear`` draws its weights with ``i2dl.nn.init``). ``own(fn,
forbid_direct={"i2dl.nn.init": "use your own he_init"})`` blocks it only where the student's code
reaches it: names bound in the notebook's namespace, attributes read from modules bound there,
and imports the notebook's code makes during the call; the library keeps using it. This catches
ordinary use, not deliberate evasion (``importlib.import_module``, ``sys.modules``).

PyTorch exercises grade code that is meant to use torch: wrap it with
``own(fn, allow=("torch",))``, which still blocks ``i2dl``'s reference implementations. Their
models, optimisers and loaders are objects, not functions: hidden tests call them directly
(``model(X)``; in the grader a proxy makes the call in the kernel), check what came back with
:func:`expect_tensor` and count parameters from the returned ``state_dict`` with
:func:`state_dict_size`, both on the trusted side. This module never imports torch itself
unless one of those two helpers is called.
"""

from __future__ import annotations

import builtins
import contextvars
import sys
import types
from collections.abc import Callable, Iterator, Mapping
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
_BLOCK_DIRECT: contextvars.ContextVar[dict[str, str] | None] = contextvars.ContextVar(
    "i2dl_block_direct", default=None
)
# Said when a ``forbid_direct`` entry comes without advice of its own.
DEFAULT_ADVICE = "write that part yourself"


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


def _matches(name: str | None, prefixes: tuple[str, ...]) -> bool:
    return bool(name) and any(name == p or name.startswith(p + ".") for p in prefixes)


def _origin(obj: Any) -> str | None:
    if isinstance(obj, types.ModuleType):
        return obj.__name__
    if isinstance(obj, type) and issubclass(obj, BaseException):
        return None  # exception classes stay usable in `except` clauses
    return getattr(obj, "__module__", None) if callable(obj) else None


class _Blocked:
    """Stands in for a forbidden module, function or class: any use raises ``DelegationError``.

    ``advice`` (set for ``forbid_direct`` entries) says what to use instead.
    """

    def __init__(self, what: str, caller: str, advice: str | None = None) -> None:
        object.__setattr__(self, "_what", what)
        object.__setattr__(self, "_caller", caller)
        object.__setattr__(self, "_advice", advice)

    def _error(self, what: str) -> DelegationError:
        if self._advice is None:
            return DelegationError(
                f"{self._caller} uses {what}; this exercise grades your own implementation, "
                "so write it with numpy instead of calling the course's reference or PyTorch"
            )
        return DelegationError(
            f"{self._caller} uses {what}, which this test does not allow in your own code: "
            f"{self._advice}"
        )

    def _fail(self, *_args: Any, **_kwargs: Any) -> Any:
        raise self._error(self._what)

    __call__ = _fail

    def __getattr__(self, name: str) -> Any:
        dunder = name.startswith("__") and name.endswith("__")
        raise self._error(self._what if dunder else f"{self._what}.{name}")


class _RefuseImports:
    """A meta-path finder that refuses to load a blocked module that is not loaded yet."""

    def __init__(self, prefixes: tuple[str, ...], caller: str) -> None:
        self.prefixes = prefixes
        self.caller = caller

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> None:
        if _matches(fullname, self.prefixes):
            _Blocked(fullname, self.caller)()


def _direct_rules(forbid_direct: Mapping[str, str] | tuple[str, ...] | None) -> dict[str, str]:
    """Check ``forbid_direct`` and return it as dotted path -> advice."""
    if forbid_direct is None:
        return {}
    if isinstance(forbid_direct, str):
        raise TypeError(
            f"forbid_direct should be a tuple of dotted names or a dict of dotted name -> advice, "
            f"got the string {forbid_direct!r}; write ({forbid_direct!r},)"
        )
    if isinstance(forbid_direct, Mapping):
        items = list(forbid_direct.items())
    else:
        items = [(name, DEFAULT_ADVICE) for name in forbid_direct]
    rules: dict[str, str] = {}
    for name, advice in items:
        if not isinstance(name, str) or not all(p.isidentifier() for p in name.split(".")):
            raise ValueError(
                "forbid_direct names a module or an object by its dotted path, e.g. "
                f"'i2dl.nn.init' or 'i2dl.optim.StepLR'; got {name!r}"
            )
        if not isinstance(advice, str) or not advice.strip():
            raise ValueError(
                f"the advice for {name!r} in forbid_direct should say what to use instead, "
                f"e.g. 'use your own he_init'; got {advice!r}"
            )
        rules[name] = advice
    return rules


def _object_paths(value: Any) -> tuple[str, ...]:
    """Dotted paths of a module, a class and its base classes, or a function (else none).

    Only attributes that these types define themselves are read, so nothing of the student's
    runs here.
    """
    if isinstance(value, types.ModuleType):
        name = value.__dict__.get("__name__")
        return (name,) if isinstance(name, str) else ()
    if isinstance(value, type):
        if issubclass(value, BaseException):
            return ()  # exception classes stay usable in `except` clauses
        return tuple(f"{cls.__module__}.{cls.__qualname__}" for cls in value.__mro__)
    if isinstance(value, types.MethodType):
        value = value.__func__
    if isinstance(value, (types.FunctionType, types.BuiltinFunctionType)):
        return (f"{value.__module__}.{value.__qualname__}",)
    return ()


class _GuardedModule(types.ModuleType):
    """The student's view of a module while ``forbid_direct`` is in force.

    Reading an attribute that leads to a forbidden object gives a blocked stand-in, a submodule
    that may lead to one is itself viewed through a guard, and everything else is the module's
    own. The module itself is untouched, so library code that uses it keeps working.
    """

    def __init__(self, module: types.ModuleType, guard: _DirectGuard) -> None:
        super().__init__(module.__name__, module.__doc__)
        own_dict = self.__dict__
        for key in ("__package__", "__loader__", "__spec__"):
            own_dict[key] = getattr(module, key, None)
        own_dict["_i2dl_module"] = module
        own_dict["_i2dl_guard"] = guard

    def __getattr__(self, name: str) -> Any:
        own_dict = self.__dict__
        return own_dict["_i2dl_guard"].screen(getattr(own_dict["_i2dl_module"], name))

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self.__dict__["_i2dl_module"], name, value)

    def __delattr__(self, name: str) -> None:
        delattr(self.__dict__["_i2dl_module"], name)

    def __dir__(self) -> list[str]:
        return dir(self.__dict__["_i2dl_module"])


class _DirectGuard:
    """Blocks ``forbid_direct`` objects where the student's code reaches them, for one call.

    Three ways lead from the notebook's code to an object: a name bound in its namespace
    (``fn_globals``), an attribute chain from a module bound there, and an import statement it
    runs during the call (``__import__`` receives the importing code's globals, so the
    student's imports can be told from the library's). The first is patched, the second goes
    through :class:`_GuardedModule` views, the third through a replaced ``builtins.__import__``.
    """

    def __init__(self, caller: str, fn_globals: dict[str, Any], rules: dict[str, str]) -> None:
        self.caller = caller
        self.fn_globals = fn_globals
        self.rules = rules
        # Only modules of the forbidden objects' top-level packages can lead to them.
        self.packages = {name.partition(".")[0] for name in rules}
        self.views: dict[int, _GuardedModule] = {}
        self.saved: list[tuple[str, Any]] = []
        self.real_import: Callable[..., Any] | None = None
        self.active = False

    def rule_for(self, path: str) -> str | None:
        for name in self.rules:
            if path == name or path.startswith(name + "."):
                return name
        return None

    def screen(self, value: Any) -> Any:
        """``value`` as the student's code may see it now."""
        if not self.active:
            return value
        paths = _object_paths(value)
        for path in paths:
            rule = self.rule_for(path)
            if rule is not None:
                return _Blocked(paths[0], self.caller, self.rules[rule])
        if isinstance(value, _GuardedModule):
            value = value.__dict__["_i2dl_module"]
        if (
            isinstance(value, types.ModuleType)
            and paths
            and paths[0].partition(".")[0] in self.packages
        ):
            view = self.views.get(id(value))
            if view is None:
                view = self.views[id(value)] = _GuardedModule(value, self)
            return view
        return value

    def guarded_import(
        self,
        name: str,
        globals: dict[str, Any] | None = None,  # the names of __import__'s parameters
        locals: Any = None,
        fromlist: Any = (),
        level: int = 0,
    ) -> Any:
        assert self.real_import is not None
        importer = globals
        if importer is None:  # __import__("...") called by hand: ask who called
            try:
                importer = sys._getframe(1).f_globals
            except ValueError:
                importer = None
        student = self.active and level == 0 and importer is self.fn_globals
        if student:
            rule = self.rule_for(name)
            if rule is not None:
                items = [str(item) for item in fromlist or ()]
                what = ", ".join(f"{name}.{item}" for item in items) if items else name
                raise _Blocked(name, self.caller, self.rules[rule])._error(what)
        module = self.real_import(name, globals, locals, fromlist, level)
        return self.screen(module) if student else module

    def install(self) -> None:
        self.active = True
        for name, value in list(self.fn_globals.items()):
            replacement = self.screen(value)
            if replacement is not value:
                self.saved.append((name, value))
                self.fn_globals[name] = replacement
        self.real_import = builtins.__import__
        builtins.__import__ = self.guarded_import

    def uninstall(self) -> None:
        self.active = False  # views and stand-ins that escaped the call stop guarding
        if self.real_import is not None:
            builtins.__import__ = self.real_import
        for name, value in reversed(self.saved):
            self.fn_globals[name] = value


@contextmanager
def _references_blocked(
    fn_name: str,
    fn_globals: dict[str, Any],
    prefixes: tuple[str, ...],
    direct: Mapping[str, str] | None = None,
) -> Iterator[None]:
    """Block ``prefixes`` everywhere and ``direct`` (path -> advice) in the student's code."""
    saved: list[tuple[dict[str, Any], str, Any]] = []
    rules = _direct_rules(direct)
    guard = _DirectGuard(fn_name, fn_globals, rules) if rules else None

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
        if guard is not None:
            guard.install()
        yield
    finally:
        if guard is not None:
            guard.uninstall()
        sys.meta_path.remove(finder)
        for namespace, name, value in reversed(saved):
            namespace[name] = value


def own(
    fn: Callable[..., Any],
    *,
    forbid: tuple[str, ...] = (),
    allow: tuple[str, ...] = (),
    forbid_direct: Mapping[str, str] | tuple[str, ...] = (),
) -> Callable[..., Any]:
    """Wrap a graded function so that calling it blocks the reference implementations.

    ``forbid`` adds module prefixes to block (e.g. ``("i2dl.gradcheck",)`` where the exercise
    grades numerical gradients); ``allow`` removes some (e.g. ``("i2dl.layers",)`` where the
    exercise builds on layers graded earlier). The wrapper fails (``AssertionError``) when
    ``fn`` is not a function defined in the notebook itself, or when it reaches a blocked module.

    ``forbid_direct`` blocks modules or objects by dotted path (``"i2dl.nn.init"``,
    ``"i2dl.optim.StepLR"``; a class also matches through its base classes) only where the
    notebook's own code reaches them, so library code that needs them keeps working. Give it as
    a dict path -> what to use instead (``{"i2dl.nn.init": "use your own he_init"}``), which the
    error message repeats, or as a tuple of paths.
    """
    prefixes = tuple(p for p in FORBIDDEN_PREFIXES if p not in allow) + tuple(forbid)
    direct = _direct_rules(forbid_direct)
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
    name = getattr(fn, "__name__", repr(fn))

    def call(*args: Any, **kwargs: Any) -> Any:
        if not isinstance(fn, types.FunctionType):
            raise DelegationError(f"{name} should be a function you define in this notebook")
        if fn.__module__ != "__main__":
            raise DelegationError(
                f"{name} comes from {fn.__module__}, not from your notebook: define it yourself"
            )
        with _references_blocked(name, fn.__globals__, prefixes, direct):
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
