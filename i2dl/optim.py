"""First-order optimisers and learning-rate schedules for dicts of numpy parameters.

An optimiser updates a dict of parameter arrays from a dict of gradients with the same keys::

    opt = Adam(lr=1e-3)
    for X, y in batches:
        loss, grads = model.loss(X, y)   # grads: {"W1": dW1, "b1": db1, ...}
        opt.step(model.params, grads)    # changes the arrays in model.params in place

Every optimiser follows the update rule of the ``torch.optim`` class of the same name, so the two
produce the same trajectory when given the same hyper-parameters and gradients.
"""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np

__all__ = [
    "Optimizer",
    "SGD",
    "Adagrad",
    "RMSprop",
    "Adam",
    "LRScheduler",
    "StepLR",
    "ExponentialLR",
    "InverseTimeLR",
]

State = dict[str, np.ndarray | int]


class Optimizer:
    """Base class: walks over the parameters and applies the update rule of a subclass.

    Update rules, for one parameter array ``p`` with gradient ``g`` at step ``t = 1, 2, ...``.
    All operations are elementwise and every buffer starts at zero.

    SGD::

        g <- g + weight_decay * p
        momentum_buffer <- momentum * momentum_buffer + g        (only if momentum > 0)
        d = g + momentum * momentum_buffer   if nesterov
        d = momentum_buffer                  if momentum > 0 and not nesterov
        d = g                                if momentum == 0
        p <- p - lr * d

    Adagrad::

        sum_sq <- sum_sq + g**2
        p <- p - lr * g / (sqrt(sum_sq) + eps)

    RMSprop::

        avg_sq <- alpha * avg_sq + (1 - alpha) * g**2
        p <- p - lr * g / (sqrt(avg_sq) + eps)

    Adam::

        g <- g + weight_decay * p
        m <- beta1 * m + (1 - beta1) * g
        v <- beta2 * v + (1 - beta2) * g**2
        m_hat = m / (1 - beta1**t)
        v_hat = v / (1 - beta2**t)
        p <- p - lr * m_hat / (sqrt(v_hat) + eps)

    Because the momentum buffer starts at zero, after the first SGD step it equals the first
    gradient. With a constant ``lr`` this is the "velocity" form ``v <- momentum * v - lr * g``,
    ``p <- p + v``, written with ``velocity = -lr * momentum_buffer``.

    Parameters
    ----------
    lr : float
        Learning rate (step size), > 0. Schedulers change it between steps through ``opt.lr``.

    Attributes
    ----------
    lr : float
        The current learning rate.
    state : dict[str, dict]
        Per-parameter buffers, keyed by the parameter's key in ``params``; each buffer has the
        shape of its parameter.
    """

    def __init__(self, lr: float) -> None:
        _check_positive("lr", lr)
        self.lr = float(lr)
        self.state: dict[str, State] = {}

    def step(self, params: dict[str, np.ndarray], grads: dict[str, np.ndarray]) -> None:
        """Update every array in ``params`` in place by one step of the update rule.

        Parameters
        ----------
        params : dict[str, np.ndarray]
            Parameter arrays (floating point), any shapes. Each array is modified in place, so
            every other reference to it (e.g. inside a model) sees the new values.
        grads : dict[str, np.ndarray]
            Gradients with exactly the keys of ``params``; ``grads[k]`` has the shape of
            ``params[k]``. Not modified.
        """
        _check_params_and_grads(params, grads)
        for name, param in params.items():
            _check_state_shapes(name, self.state.get(name, {}), param)
        for name, param in params.items():
            if name not in self.state:
                self.state[name] = self._new_state(param)
            param -= self._update(
                param, np.asarray(grads[name], dtype=np.float64), self.state[name]
            )

    def reset(self) -> None:
        """Forget all per-parameter state, as if no step had been taken (``lr`` is kept)."""
        self.state = {}

    zero_state = reset

    def _new_state(self, param: np.ndarray) -> State:
        """Return the initial buffers for ``param`` (none by default)."""
        return {}

    def _update(self, param: np.ndarray, grad: np.ndarray, state: State) -> np.ndarray:
        """Return the amount to subtract from ``param``; advance ``state`` for this step."""
        raise NotImplementedError(f"{type(self).__name__} must implement _update")

    def __repr__(self) -> str:
        settings = ", ".join(
            f"{key}={value!r}" for key, value in vars(self).items() if key != "state"
        )
        return f"{type(self).__name__}({settings})"


class SGD(Optimizer):
    """Stochastic gradient descent with optional (Nesterov) momentum and L2 weight decay.

    Parameters
    ----------
    lr : float
        Learning rate, > 0.
    momentum : float
        Momentum factor, >= 0; 0 gives plain gradient descent.
    nesterov : bool
        Use Nesterov momentum (needs ``momentum > 0``).
    weight_decay : float
        L2 penalty factor, >= 0, added to the gradient as ``weight_decay * p``.
    """

    def __init__(
        self, lr: float, momentum: float = 0.0, nesterov: bool = False, weight_decay: float = 0.0
    ) -> None:
        super().__init__(lr)
        _check_non_negative("momentum", momentum)
        _check_non_negative("weight_decay", weight_decay)
        if nesterov and momentum == 0:
            raise ValueError(
                "nesterov=True needs momentum > 0, got momentum=0; "
                "pass e.g. momentum=0.9 or set nesterov=False."
            )
        self.momentum = float(momentum)
        self.nesterov = bool(nesterov)
        self.weight_decay = float(weight_decay)

    def _new_state(self, param: np.ndarray) -> State:
        if self.momentum == 0:
            return {}
        return {"momentum_buffer": np.zeros_like(param, dtype=np.float64)}

    def _update(self, param: np.ndarray, grad: np.ndarray, state: State) -> np.ndarray:
        grad = grad + self.weight_decay * param
        if self.momentum == 0:
            return self.lr * grad
        buffer = self.momentum * state["momentum_buffer"] + grad
        state["momentum_buffer"] = buffer
        direction = grad + self.momentum * buffer if self.nesterov else buffer
        return self.lr * direction


class Adagrad(Optimizer):
    """Adagrad: each entry's step shrinks with the sum of its squared past gradients.

    Parameters
    ----------
    lr : float
        Learning rate, > 0.
    eps : float
        Added to the denominator for numerical stability, >= 0.
    """

    def __init__(self, lr: float = 1e-2, eps: float = 1e-10) -> None:
        super().__init__(lr)
        _check_non_negative("eps", eps)
        self.eps = float(eps)

    def _new_state(self, param: np.ndarray) -> State:
        return {"sum_sq": np.zeros_like(param, dtype=np.float64)}

    def _update(self, param: np.ndarray, grad: np.ndarray, state: State) -> np.ndarray:
        state["sum_sq"] = state["sum_sq"] + grad**2
        return self.lr * grad / (np.sqrt(state["sum_sq"]) + self.eps)


class RMSprop(Optimizer):
    """RMSprop: like Adagrad, but with an exponential moving average of squared gradients.

    Parameters
    ----------
    lr : float
        Learning rate, > 0.
    alpha : float
        Decay rate of the moving average, in [0, 1).
    eps : float
        Added to the denominator for numerical stability, >= 0.
    """

    def __init__(self, lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8) -> None:
        super().__init__(lr)
        _check_unit_interval("alpha", alpha)
        _check_non_negative("eps", eps)
        self.alpha = float(alpha)
        self.eps = float(eps)

    def _new_state(self, param: np.ndarray) -> State:
        return {"avg_sq": np.zeros_like(param, dtype=np.float64)}

    def _update(self, param: np.ndarray, grad: np.ndarray, state: State) -> np.ndarray:
        state["avg_sq"] = self.alpha * state["avg_sq"] + (1 - self.alpha) * grad**2
        return self.lr * grad / (np.sqrt(state["avg_sq"]) + self.eps)


class Adam(Optimizer):
    """Adam: momentum on the gradient plus RMSprop scaling, both bias-corrected.

    ``weight_decay`` is an L2 penalty added to the gradient, as in ``torch.optim.Adam``
    (not the decoupled decay of AdamW).

    Parameters
    ----------
    lr : float
        Learning rate, > 0.
    betas : tuple[float, float]
        Decay rates ``(beta1, beta2)`` of the moving averages of the gradient and of its square,
        each in [0, 1).
    eps : float
        Added to the denominator for numerical stability, >= 0.
    weight_decay : float
        L2 penalty factor, >= 0.
    """

    def __init__(
        self,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
    ) -> None:
        super().__init__(lr)
        if len(betas) != 2:
            raise ValueError(f"betas must be a pair (beta1, beta2), got {betas!r}.")
        _check_unit_interval("betas[0]", betas[0])
        _check_unit_interval("betas[1]", betas[1])
        _check_non_negative("eps", eps)
        _check_non_negative("weight_decay", weight_decay)
        self.betas = (float(betas[0]), float(betas[1]))
        self.eps = float(eps)
        self.weight_decay = float(weight_decay)

    def _new_state(self, param: np.ndarray) -> State:
        zeros = np.zeros_like(param, dtype=np.float64)
        return {"step": 0, "m": zeros, "v": zeros.copy()}

    def _update(self, param: np.ndarray, grad: np.ndarray, state: State) -> np.ndarray:
        beta1, beta2 = self.betas
        grad = grad + self.weight_decay * param
        state["step"] += 1
        state["m"] = beta1 * state["m"] + (1 - beta1) * grad
        state["v"] = beta2 * state["v"] + (1 - beta2) * grad**2
        # Without this correction the zero-initialised averages make the first steps too small.
        m_hat = state["m"] / (1 - beta1 ** state["step"])
        v_hat = state["v"] / (1 - beta2 ** state["step"])
        return self.lr * m_hat / (np.sqrt(v_hat) + self.eps)


class LRScheduler:
    """Base class: sets ``optimizer.lr`` from the epoch count each time ``step()`` is called.

    The schedule starts from the optimiser's learning rate at construction, ``base_lr``. Call
    ``step()`` once per epoch, after that epoch's optimiser steps.

    Parameters
    ----------
    optimizer : Optimizer
        The optimiser whose ``lr`` is scheduled.
    """

    def __init__(self, optimizer: Optimizer) -> None:
        self.optimizer = optimizer
        self.base_lr = optimizer.lr
        self.epoch = 0

    def step(self) -> None:
        """Advance one epoch and set ``optimizer.lr`` to that epoch's learning rate."""
        self.epoch += 1
        self.optimizer.lr = self.lr_at(self.epoch)

    def lr_at(self, epoch: int) -> float:
        """Return the learning rate for ``epoch`` (0 gives ``base_lr``)."""
        raise NotImplementedError(f"{type(self).__name__} must implement lr_at")


class StepLR(LRScheduler):
    """Multiply the learning rate by ``gamma`` every ``step_size`` epochs.

    ``lr_t = base_lr * gamma ** (t // step_size)``, as ``torch.optim.lr_scheduler.StepLR``.
    """

    def __init__(self, optimizer: Optimizer, step_size: int, gamma: float = 0.1) -> None:
        super().__init__(optimizer)
        if isinstance(step_size, bool) or not isinstance(step_size, Integral) or step_size < 1:
            raise ValueError(f"step_size must be a positive integer, got {step_size!r}.")
        _check_positive("gamma", gamma)
        self.step_size = int(step_size)
        self.gamma = float(gamma)

    def lr_at(self, epoch: int) -> float:
        return self.base_lr * self.gamma ** (epoch // self.step_size)


class ExponentialLR(LRScheduler):
    """Multiply the learning rate by ``gamma`` every epoch.

    ``lr_t = base_lr * gamma ** t``, as ``torch.optim.lr_scheduler.ExponentialLR``.
    """

    def __init__(self, optimizer: Optimizer, gamma: float) -> None:
        super().__init__(optimizer)
        _check_positive("gamma", gamma)
        self.gamma = float(gamma)

    def lr_at(self, epoch: int) -> float:
        return self.base_lr * self.gamma**epoch


class InverseTimeLR(LRScheduler):
    """Decay the learning rate as 1/t: ``lr_t = base_lr / (1 + decay * t)``.

    The step sizes then satisfy the Robbins-Monro conditions (their sum diverges, the sum of
    their squares does not) whenever ``decay > 0``.
    """

    def __init__(self, optimizer: Optimizer, decay: float) -> None:
        super().__init__(optimizer)
        _check_non_negative("decay", decay)
        self.decay = float(decay)

    def lr_at(self, epoch: int) -> float:
        return self.base_lr / (1 + self.decay * epoch)


def _check_params_and_grads(params: dict[str, np.ndarray], grads: dict[str, np.ndarray]) -> None:
    """Raise an error that names the culprit if ``params`` and ``grads`` do not line up."""
    if params.keys() != grads.keys():
        missing = sorted(params.keys() - grads.keys())
        extra = sorted(grads.keys() - params.keys())
        raise ValueError(
            "params and grads must have the same keys; "
            f"missing from grads: {missing}, only in grads: {extra}."
        )
    for name, param in params.items():
        if not isinstance(param, np.ndarray) or not np.issubdtype(param.dtype, np.floating):
            raise TypeError(
                f"params[{name!r}] must be a floating-point numpy array (it is updated in place), "
                f"got {type(param).__name__} with dtype {getattr(param, 'dtype', None)}."
            )
        grad_shape = np.shape(grads[name])
        if grad_shape != param.shape:
            raise ValueError(
                f"grads[{name!r}] has shape {grad_shape} but params[{name!r}] has shape "
                f"{param.shape}; the gradient must have the shape of its parameter."
            )


def _check_state_shapes(name: str, state: State, param: np.ndarray) -> None:
    for buffer in state.values():
        if isinstance(buffer, np.ndarray) and buffer.shape != param.shape:
            raise ValueError(
                f"the optimiser's state for {name!r} has shape {buffer.shape} but the parameter "
                f"now has shape {param.shape}; call reset() when the model changes."
            )


def _check_positive(name: str, value: float) -> None:
    if not _is_real(value) or not value > 0:
        raise ValueError(f"{name} must be a positive number, got {value!r}.")


def _check_non_negative(name: str, value: float) -> None:
    if not _is_real(value) or not value >= 0:
        raise ValueError(f"{name} must be a number >= 0, got {value!r}.")


def _check_unit_interval(name: str, value: float) -> None:
    if not _is_real(value) or not 0 <= value < 1:
        raise ValueError(f"{name} must be in [0, 1), got {value!r}.")


def _is_real(value: object) -> bool:
    return isinstance(value, Real) and not isinstance(value, bool)
