"""Run a graded function with the course's reference implementations switched off.

Several exercises ask you to write something that ``i2dl`` or PyTorch already provides. A graded
function must be your own work, so tests call it through :func:`own` (or :func:`call_own`): while
it runs, the reference modules (``i2dl.layers``, ``i2dl.losses``, ``i2dl.optim``, ``i2dl.nn``) and
PyTorch are blocked, and code that reaches for them fails with a :class:`DelegationError` that
says what it used, instead of scoring points for someone else's code::

    from i2dl.ownership import own

    graded = own(train_model, allow=("i2dl.nn", "i2dl.optim"),
                 forbid_direct={"i2dl.nn.init": "initialise the weights with your own he_init"})
    model, history = graded(X_train, y_train, X_val, y_val, config)

Exercise notebooks use it in their visible checks, so you see exactly what the grader checks. The
grader applies the same rules with the same machinery (:func:`references_blocked`) inside your
kernel when it grades a notebook.

Blocking happens in two strengths:

- module prefixes (``FORBIDDEN_PREFIXES``, changed with ``forbid=`` and ``allow=``) are blocked
  everywhere: importing them fails, and their functions and classes are replaced in every loaded
  ``i2dl`` module and in the notebook's namespace by stand-ins that raise ``DelegationError``;
- ``forbid_direct`` paths are blocked only where the notebook's own code reaches them (names bound
  in its namespace, attribute chains from modules bound there, imports it makes during the call),
  so library code that needs them keeps working: ``i2dl.nn.Linear`` draws its weights with
  ``i2dl.nn.init`` even while your code may not call ``i2dl.nn.init`` itself.

These checks catch code that imports or calls a reference, not someone who sets out to switch
them off (``importlib``, ``sys.modules``): that is copying, which no automatic check detects.
Everything is restored when the call returns or raises. Importing this module is cheap: it needs
neither numpy nor PyTorch.
"""

from __future__ import annotations

import builtins
import functools
import sys
import types
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

__all__ = [
    "DEFAULT_ADVICE",
    "FORBIDDEN_PREFIXES",
    "DelegationError",
    "blocking_rules",
    "call_own",
    "own",
    "references_blocked",
]

#: Module prefixes that graded code must not reach unless a test allows them.
FORBIDDEN_PREFIXES = ("torch", "i2dl.layers", "i2dl.losses", "i2dl.optim", "i2dl.nn")

#: What the error message says when a ``forbid_direct`` entry comes without advice of its own.
DEFAULT_ADVICE = "write that part yourself"


class DelegationError(AssertionError):
    """Raised when graded code is not the notebook's own or reaches a blocked implementation.

    It is an ``AssertionError``, so a test that raises it fails like any other failed check.
    """


def _matches(name: str | None, prefixes: tuple[str, ...]) -> bool:
    """Whether the dotted ``name`` is one of ``prefixes`` or lies inside one of them."""
    if not name or not isinstance(name, str):
        return False
    return name in prefixes or name.startswith(_dotted(prefixes))


@functools.lru_cache(maxsize=64)
def _dotted(prefixes: tuple[str, ...]) -> tuple[str, ...]:
    # str.startswith takes a tuple: one C-level call per name instead of a generator over the
    # prefixes (references_blocked tests every loaded module's name, over a thousand with torch,
    # on every call of a graded function)
    return tuple(p + "." for p in prefixes)


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


def _module_names(value: Any, argument: str, example: str) -> tuple[str, ...]:
    """Check ``forbid=``/``allow=``: an iterable of dotted module names, not a string."""
    if isinstance(value, str):
        raise TypeError(
            f"{argument} should be a tuple of module names, got the string {value!r}; "
            f"write ({value!r},)"
        )
    if not isinstance(value, Iterable):
        raise TypeError(
            f"{argument} should be a tuple of module names such as {example}, "
            f"got {type(value).__name__}"
        )
    names = tuple(value)
    for name in names:
        if not isinstance(name, str) or not all(p.isidentifier() for p in name.split(".")):
            raise ValueError(
                f"{argument} names modules by their dotted names, e.g. {example}; got {name!r}"
            )
    return names


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


def blocking_rules(
    forbid: tuple[str, ...] = (),
    allow: tuple[str, ...] = (),
    forbid_direct: Mapping[str, str] | tuple[str, ...] | None = (),
) -> tuple[tuple[str, ...], dict[str, str]]:
    """The rules an :func:`own` call applies, checked.

    Parameters
    ----------
    forbid : tuple of str
        Module prefixes to block on top of ``FORBIDDEN_PREFIXES``, e.g. ``("i2dl.gradcheck",)``.
    allow : tuple of str
        Entries of ``FORBIDDEN_PREFIXES`` to leave usable, e.g. ``("i2dl.layers",)``.
    forbid_direct : dict of str to str, or tuple of str
        Dotted paths blocked only in the notebook's own code, each mapped to advice on what to use
        instead (a tuple gives every path ``DEFAULT_ADVICE``).

    Returns
    -------
    prefixes : tuple of str
        The module prefixes blocked everywhere during the call.
    direct : dict of str to str
        ``forbid_direct`` as dotted path -> advice.

    Raises
    ------
    TypeError
        If ``forbid``, ``allow`` or ``forbid_direct`` is a single string instead of a tuple.
    ValueError
        If a name is not a dotted path or an advice is empty.
    """
    forbid = _module_names(forbid, "forbid", "('i2dl.gradcheck',)")
    allow = _module_names(allow, "allow", "('i2dl.layers',)")
    prefixes = tuple(p for p in FORBIDDEN_PREFIXES if p not in allow) + forbid
    return prefixes, _direct_rules(forbid_direct)


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
def references_blocked(
    fn_name: str,
    fn_globals: dict[str, Any],
    prefixes: tuple[str, ...],
    direct: Mapping[str, str] | tuple[str, ...] | None = None,
) -> Iterator[None]:
    """Block reference implementations for the duration of a ``with`` block.

    This is the machinery behind :func:`own`; the grader uses it in the student's kernel.

    Parameters
    ----------
    fn_name : str
        Name of the graded function, used in the error messages.
    fn_globals : dict
        The namespace the graded code runs in (the notebook's), patched while the block runs.
    prefixes : tuple of str
        Module prefixes blocked everywhere: importing them fails, and their functions and
        classes are replaced in ``fn_globals`` and in every loaded ``i2dl`` module.
    direct : dict of str to str, or tuple of str, optional
        ``forbid_direct`` rules (dotted path -> advice), blocked only where code whose globals
        are ``fn_globals`` reaches them.

    Yields
    ------
    None
        Everything patched is restored when the block ends, normally or by an exception.
    """
    saved: list[tuple[dict[str, Any], str, Any]] = []
    # Loaded modules under the prefixes, name -> module: with torch loaded about a thousand, so
    # they are swapped out and back in one update each.
    modules_blocked: dict[str, Any] = {}
    rules = _direct_rules(direct)
    guard = _DirectGuard(fn_name, fn_globals, rules) if rules else None

    def block(namespace: dict[str, Any], name: str, what: str) -> None:
        saved.append((namespace, name, namespace[name]))
        namespace[name] = _Blocked(what, fn_name)

    finder = _RefuseImports(prefixes, fn_name)
    sys.meta_path.insert(0, finder)
    try:
        for name, value in list(fn_globals.items()):
            origin = _origin(value)
            if _matches(origin, prefixes):
                if isinstance(value, types.ModuleType):
                    block(fn_globals, name, str(origin))  # `import torch.nn.functional as F`
                else:
                    block(fn_globals, name, f"{origin}.{getattr(value, '__name__', name)}")
        dotted = _dotted(prefixes)
        for mod_name, module in list(sys.modules.items()):
            if module is None or not isinstance(mod_name, str):
                continue
            if mod_name.startswith("i2dl"):
                # i2dl stays importable (data helpers live there), but reference functions and
                # classes, including re-exports such as i2dl.testing.rel_error, are blocked.
                namespace = vars(module)
                for attr, value in list(namespace.items()):
                    if not attr.startswith("_") and _matches(_origin(value), prefixes):
                        block(namespace, attr, f"{mod_name}.{attr}")
            elif mod_name in prefixes or mod_name.startswith(dotted):
                # `import torch` inside the graded function must not succeed either.
                modules_blocked[mod_name] = module
        sys.modules.update({name: _Blocked(name, fn_name) for name in modules_blocked})
        if guard is not None:
            guard.install()
        yield
    finally:
        if guard is not None:
            guard.uninstall()
        sys.meta_path.remove(finder)
        sys.modules.update(modules_blocked)
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

    Parameters
    ----------
    fn : callable
        The graded function. It must be a function defined in the notebook itself (its module is
        ``__main__``), not one imported from a library.
    forbid : tuple of str, optional
        Module prefixes to block on top of ``FORBIDDEN_PREFIXES``, e.g. ``("i2dl.gradcheck",)``
        where the exercise grades numerical gradients.
    allow : tuple of str, optional
        Entries of ``FORBIDDEN_PREFIXES`` to leave usable, e.g. ``("i2dl.layers",)`` where the
        exercise builds on layers graded earlier.
    forbid_direct : dict of str to str, or tuple of str, optional
        Modules or objects blocked by dotted path (``"i2dl.nn.init"``, ``"i2dl.optim.StepLR"``;
        a class also matches through its base classes) only where the notebook's own code
        reaches them, so library code that needs them keeps working. As a dict, each path maps
        to what to use instead (``{"i2dl.nn.init": "use your own he_init"}``), which the error
        message repeats; as a tuple, the message gives ``DEFAULT_ADVICE``.

    Returns
    -------
    callable
        Takes the arguments of ``fn`` and returns its result, calling it with the references
        blocked and restoring everything afterwards.

    Raises
    ------
    TypeError, ValueError
        At once, if the rules are malformed (see :func:`blocking_rules`).
    DelegationError
        When the wrapper is called, if ``fn`` is not a function defined in the notebook, or if it
        reaches a blocked module or object.
    """
    prefixes, direct = blocking_rules(forbid, allow, forbid_direct)
    name = getattr(fn, "__name__", repr(fn))

    def call(*args: Any, **kwargs: Any) -> Any:
        if not isinstance(fn, types.FunctionType):
            raise DelegationError(f"{name} should be a function you define in this notebook")
        if fn.__module__ != "__main__":
            raise DelegationError(
                f"{name} comes from {fn.__module__}, not from your notebook: define it yourself"
            )
        with references_blocked(name, fn.__globals__, prefixes, direct):
            return fn(*args, **kwargs)

    return call


def call_own(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Call a graded function with the default references blocked.

    Parameters
    ----------
    fn : callable
        A function defined in the notebook.
    *args, **kwargs
        Passed on to ``fn``.

    Returns
    -------
    object
        What ``fn(*args, **kwargs)`` returns; the same as ``own(fn)(*args, **kwargs)``.
    """
    return own(fn)(*args, **kwargs)
