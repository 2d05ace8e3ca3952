"""The ``Module`` base class and the ``Sequential`` container.

A module wraps one forward/backward pair of :mod:`i2dl.layers` together with its parameters:

* ``out = module.forward(x)`` (or ``module(x)``) keeps what the backward pass needs on the module;
* ``dx = module.backward(dout)`` returns the gradient with respect to ``x`` and writes the
  gradients of the parameters into ``module.grads``.

Parameters, gradients and buffers (state that is not trained, such as the running statistics of
batch normalisation) are numpy arrays that each module creates once and then only ever changes
in place. ``module.params`` and ``module.grads`` are dicts from names to *those very arrays*,
including the arrays of all sub-modules under dotted names (``"0.weight"``, ``"2.bias"``, as in
PyTorch). That is what makes one line of an optimiser train a whole network::

    model = Sequential(Linear(2, 64, seed=rng), ReLU(), Linear(64, 3, seed=rng))
    optimizer = Adam(lr=1e-3)
    scores = model(X)
    loss, dscores = cross_entropy_loss(scores, y)
    model.backward(dscores)
    optimizer.step(model.params, model.grads)   # updates the layers' own arrays in place

Assigning a new array to a dict entry (``model.params["0.weight"] = w``) does nothing, because the
dict is built on each access; write into the array instead (``model.params["0.weight"][...] = w``)
or use ``load_state_dict``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np

__all__ = ["Module", "Sequential"]

_COLLECTIONS = ("params", "grads", "buffers")


class Module:
    """Base class of all layers and networks.

    A subclass calls ``super().__init__()`` first, registers its arrays with
    :meth:`add_parameter` / :meth:`add_buffer`, and implements ``forward`` and ``backward``.
    Modules assigned as attributes (``self.fc1 = Linear(...)``) become sub-modules whose
    parameters appear in ``params`` as ``"fc1.weight"`` and so on; ``backward`` then has to call
    the sub-modules' ``backward`` in reverse order.

    ``backward`` overwrites the gradients rather than adding to them as PyTorch does, so there is
    no need to call ``zero_grad`` between steps.

    Attributes
    ----------
    training : bool
        True in training mode (the default), False after ``eval()``.
    """

    def __init__(self) -> None:
        object.__setattr__(self, "_params", {})
        object.__setattr__(self, "_grads", {})
        object.__setattr__(self, "_buffers", {})
        object.__setattr__(self, "_modules", {})
        self.training = True
        self.cache: Any = None
        self._out_shape: tuple[int, ...] | None = None

    def __setattr__(self, name: str, value: Any) -> None:
        if "_modules" not in self.__dict__:
            raise AttributeError(
                f"{type(self).__name__}: call super().__init__() at the start of __init__, "
                f"before setting attributes such as {name!r}"
            )
        if name in _COLLECTIONS:
            raise AttributeError(
                f"{name} is collected from the registered arrays and cannot be assigned; "
                "use add_parameter(name, array) or add_buffer(name, array) in __init__"
            )
        if isinstance(value, Module):
            self._modules[name] = value
        elif name in self._modules:
            del self._modules[name]
        object.__setattr__(self, name, value)

    # -- registration -------------------------------------------------------------------------

    def add_parameter(self, name: str, value: np.ndarray) -> None:
        """Register a trainable array (stored as a float64 copy) and a zero gradient for it."""
        self._check_new_name(name)
        self._params[name] = np.array(value, dtype=np.float64)
        self._grads[name] = np.zeros_like(self._params[name])

    def add_buffer(self, name: str, value: np.ndarray) -> None:
        """Register an array that is saved in ``state_dict`` but not trained."""
        self._check_new_name(name)
        self._buffers[name] = np.array(value, dtype=np.float64)

    def _check_new_name(self, name: str) -> None:
        if not name or "." in name:
            raise ValueError(f"array names must be non-empty and contain no '.', got {name!r}")
        if name in self._params or name in self._buffers:
            raise ValueError(f"{type(self).__name__} already has an array named {name!r}")

    # -- forward and backward -----------------------------------------------------------------

    def forward(self, x: np.ndarray) -> np.ndarray:
        """Compute the output for a batch ``x`` and remember what ``backward`` needs."""
        raise NotImplementedError(f"{type(self).__name__} must implement forward(x)")

    def backward(self, dout: np.ndarray) -> np.ndarray:
        """Return ``dx`` for the upstream gradient ``dout``; fill ``grads`` for the parameters."""
        raise NotImplementedError(f"{type(self).__name__} must implement backward(dout)")

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return self.forward(x)

    def _save_for_backward(self, cache: Any, out: np.ndarray) -> np.ndarray:
        """Keep ``cache`` and the output's shape for ``backward``; return ``out``."""
        self.cache = cache
        self._out_shape = out.shape
        return out

    def _saved(self, dout: np.ndarray) -> tuple[Any, np.ndarray]:
        """The saved cache and ``dout`` as float64, after checking ``dout`` fits the output."""
        if self._out_shape is None:
            raise RuntimeError(
                f"{type(self).__name__}.backward was called before forward; "
                "run forward on a batch first"
            )
        dout = np.asarray(dout, dtype=np.float64)
        if dout.shape != self._out_shape:
            raise ValueError(
                f"{type(self).__name__}.backward: dout must have the shape of the last forward "
                f"output {self._out_shape}, got {dout.shape}"
            )
        return self.cache, dout

    def _set_grads(self, **grads: np.ndarray) -> None:
        """Write gradients into the existing arrays, so that every reference to them stays valid."""
        for name, grad in grads.items():
            self._grads[name][...] = grad

    # -- parameters, gradients and state ------------------------------------------------------

    def named_modules(self, prefix: str = "") -> Iterator[tuple[str, Module]]:
        """Yield ``(dotted_name, module)`` for this module (name ``prefix``) and all below it."""
        yield prefix, self
        for name, child in self._modules.items():
            yield from child.named_modules(f"{prefix}.{name}" if prefix else name)

    def _collect(self, *kinds: str) -> dict[str, np.ndarray]:
        """The registered arrays of the given kinds, of this module and all sub-modules."""
        arrays = {}
        for prefix, module in self.named_modules():
            for kind in kinds:
                for name, array in getattr(module, kind).items():
                    arrays[f"{prefix}.{name}" if prefix else name] = array
        return arrays

    @property
    def params(self) -> dict[str, np.ndarray]:
        """Trainable arrays by dotted name: the module's own arrays, not copies."""
        return self._collect("_params")

    @property
    def grads(self) -> dict[str, np.ndarray]:
        """Gradients of the last ``backward``, with the keys and shapes of ``params``."""
        return self._collect("_grads")

    @property
    def buffers(self) -> dict[str, np.ndarray]:
        """Arrays that are part of the state but not trained, by dotted name."""
        return self._collect("_buffers")

    def zero_grad(self) -> None:
        """Set every gradient to zero, in place."""
        for grad in self.grads.values():
            grad.fill(0.0)

    def num_parameters(self) -> int:
        """Total number of trainable scalars."""
        return sum(param.size for param in self.params.values())

    def state_dict(self) -> dict[str, np.ndarray]:
        """Copies of all parameters and buffers, keyed by dotted name.

        The names equal those of the corresponding PyTorch model's ``state_dict`` (apart from
        its ``num_batches_tracked``), but ``Linear`` weights are transposed (see ``Linear``).
        """
        return {name: array.copy() for name, array in self._collect("_params", "_buffers").items()}

    def load_state_dict(self, state: Mapping[str, np.ndarray]) -> None:
        """Copy the values of ``state`` into the module's arrays.

        Nothing is changed unless every key and shape fits. ``state`` is not modified and the
        module does not keep references to its arrays.

        Parameters
        ----------
        state : mapping from str to np.ndarray
            Exactly the keys of ``state_dict()``, each with the same shape.

        Raises
        ------
        KeyError
            If keys are missing or unexpected (the message lists them).
        ValueError
            If an array has the wrong shape.
        """
        targets = self._collect("_params", "_buffers")
        missing = [name for name in targets if name not in state]
        unexpected = [name for name in state if name not in targets]
        if missing or unexpected:
            raise KeyError(
                f"load_state_dict: the keys do not match this {type(self).__name__}; "
                f"missing: {missing}, unexpected: {unexpected}"
            )
        values = {name: np.asarray(state[name], dtype=np.float64) for name in targets}
        for name, target in targets.items():
            if values[name].shape != target.shape:
                hint = ""
                if target.ndim == 2 and values[name].shape == target.shape[::-1]:
                    hint = "; a torch.nn.Linear weight is the transpose of i2dl's, pass weight.T"
                raise ValueError(
                    f"load_state_dict: {name!r} has shape {target.shape} in the module but "
                    f"{values[name].shape} in the state dict{hint}"
                )
        for name, target in targets.items():
            target[...] = values[name]

    # -- modes and printing -------------------------------------------------------------------

    def train(self, mode: bool = True) -> Module:
        """Switch this module and all sub-modules to training mode (or eval mode if not ``mode``).

        Returns the module itself, so that ``model = Sequential(...).eval()`` works.
        """
        for _, module in self.named_modules():
            module.training = bool(mode)
        return self

    def eval(self) -> Module:
        """Switch to evaluation mode: Dropout becomes the identity, BatchNorm uses running stats."""
        return self.train(False)

    def extra_repr(self) -> str:
        """The settings shown between the parentheses of ``repr``; override in subclasses."""
        return ""

    def __repr__(self) -> str:
        header = f"{type(self).__name__}({self.extra_repr()}"
        if not self._modules:
            return header + ")"
        lines = [header]
        for name, child in self._modules.items():
            child_lines = repr(child).replace("\n", "\n  ")
            lines.append(f"  ({name}): {child_lines}")
        return "\n".join(lines) + "\n)"


class Sequential(Module):
    """Apply modules one after the other; ``backward`` runs them in reverse order.

    The modules are named ``"0"``, ``"1"``, ... so their parameters are ``"0.weight"`` and so on,
    as in ``torch.nn.Sequential``. Index the container to reach a module: ``model[0]``.

    Parameters
    ----------
    *modules : Module
        The layers, in the order the input passes through them.
    """

    def __init__(self, *modules: Module) -> None:
        super().__init__()
        for index, module in enumerate(modules):
            if isinstance(module, type) and issubclass(module, Module):
                raise TypeError(
                    f"Sequential: argument {index} is the class {module.__name__}, not a module; "
                    f"did you mean {module.__name__}()?"
                )
            if not isinstance(module, Module):
                raise TypeError(
                    f"Sequential: argument {index} must be an i2dl.nn Module, "
                    f"got {type(module).__name__}"
                )
            self._modules[str(index)] = module

    def forward(self, x: np.ndarray) -> np.ndarray:
        """Output of the last module for a batch ``x``."""
        for module in self:
            x = module(x)
        return x

    def backward(self, dout: np.ndarray) -> np.ndarray:
        """Gradient with respect to the input; every module stores its parameter gradients."""
        for module in reversed(list(self)):
            dout = module.backward(dout)
        return dout

    def __getitem__(self, index: int) -> Module:
        return list(self._modules.values())[index]

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())
