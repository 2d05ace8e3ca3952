"""Numerical gradients by central differences, to check hand-written backward passes.

The derivative of ``f`` with respect to the entry ``x[i]`` is estimated as

    (f(x + h e_i) - f(x - h e_i)) / (2 h),

whose error shrinks like ``h**2``; rounding limits how small ``h`` may be. Keep test inputs away
from kinks (ReLU at 0) and from saturated regions, where the estimate is unreliable.

Typical use; it returns the relative error of each input, or raises an AssertionError naming
the worst entry of each wrong gradient::

    rng = np.random.default_rng(0)
    inputs = {"x": rng.normal(size=(4, 5)), "w": rng.normal(size=(5, 3)), "b": rng.normal(size=3)}
    check_gradients(affine_forward, affine_backward, inputs)
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np

__all__ = ["numerical_gradient", "numerical_gradient_array", "rel_error", "check_gradients"]


def _check_perturbable(x: np.ndarray) -> None:
    if not isinstance(x, np.ndarray) or x.dtype != np.float64:
        found = x.dtype if isinstance(x, np.ndarray) else type(x).__name__
        raise TypeError(
            f"x must be a float64 numpy array, which is perturbed in place, got {found}; "
            "convert it with np.asarray(x, dtype=np.float64) and keep a reference to the result"
        )


def _central_differences(
    evaluate: Callable[[], Any], x: np.ndarray, h: float
) -> Iterator[tuple[tuple[int, ...], Any, Any]]:
    """Yield ``(index, value at x + h e_i, value at x - h e_i)`` for every index of ``x``.

    ``x`` is changed in place so that functions that close over it see the perturbation; the
    original entry is written back even if ``evaluate`` raises.
    """
    for index in np.ndindex(x.shape):
        original = x[index]
        try:
            x[index] = original + h
            plus = evaluate()
            x[index] = original - h
            minus = evaluate()
        finally:
            x[index] = original
        yield index, plus, minus


def numerical_gradient(
    f: Callable[[np.ndarray], Any], x: np.ndarray, h: float = 1e-5
) -> np.ndarray:
    """Gradient of a scalar function by central differences.

    Parameters
    ----------
    f : callable
        ``f(x)`` returns a scalar. It may ignore its argument and read ``x`` from a closure:
        ``x`` is perturbed in place.
    x : np.ndarray of float64, any shape
        Point at which to differentiate; unchanged afterwards, also if ``f`` raises.
    h : float
        Step size.

    Returns
    -------
    grad : np.ndarray, same shape as x
        ``grad[i]`` approximates ``df/dx[i]``.

    Raises
    ------
    TypeError
        If ``x`` is not a float64 array.
    ValueError
        If ``f`` does not return a single number.
    """
    _check_perturbable(x)

    def evaluate() -> float:
        value = np.asarray(f(x), dtype=np.float64)
        if value.size != 1:
            raise ValueError(
                f"numerical_gradient: f must return a scalar, got an array of shape {value.shape}; "
                "for array-valued f use numerical_gradient_array"
            )
        return float(value.item())

    grad = np.zeros_like(x)
    for index, plus, minus in _central_differences(evaluate, x, h):
        grad[index] = (plus - minus) / (2.0 * h)
    return grad


def numerical_gradient_array(
    f: Callable[[np.ndarray], Any], x: np.ndarray, dout: np.ndarray, h: float = 1e-5
) -> np.ndarray:
    """Gradient of ``sum(f(x) * dout)`` by central differences, for array-valued ``f``.

    This is what a backward pass computes from the upstream gradient ``dout``. The differences
    ``f(x + h e_i) - f(x - h e_i)`` are taken entry by entry before weighting them with ``dout``,
    which loses less precision than differencing the two sums.

    Parameters
    ----------
    f : callable
        ``f(x)`` returns an array shaped like ``dout``; it may read ``x`` from a closure.
    x : np.ndarray of float64, any shape
        Point at which to differentiate; unchanged afterwards, also if ``f`` raises.
    dout : np.ndarray, shape of f(x)
        Upstream gradient.
    h : float
        Step size.

    Returns
    -------
    grad : np.ndarray, same shape as x

    Raises
    ------
    TypeError
        If ``x`` is not a float64 array.
    ValueError
        If ``f(x)`` does not have the shape of ``dout``.
    """
    _check_perturbable(x)
    dout = np.asarray(dout, dtype=np.float64)

    def evaluate() -> np.ndarray:
        # A copy, because f may return x itself or a view that the next perturbation changes.
        value = np.array(f(x), dtype=np.float64)
        if value.shape != dout.shape:
            raise ValueError(
                f"numerical_gradient_array: f(x) has shape {value.shape} but dout has shape "
                f"{dout.shape}; they must be equal"
            )
        return value

    grad = np.zeros_like(x)
    for index, plus, minus in _central_differences(evaluate, x, h):
        grad[index] = np.sum((plus - minus) * dout) / (2.0 * h)
    return grad


def _relative_errors(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Element-wise ``|a - b| / max(1e-8, |a| + |b|)``; the floor keeps zeros from dividing."""
    return np.abs(a - b) / np.maximum(1e-8, np.abs(a) + np.abs(b))


def rel_error(a: np.ndarray, b: np.ndarray) -> float:
    """Largest element-wise relative error ``|a - b| / max(1e-8, |a| + |b|)``.

    Below about 1e-7 two gradients agree as well as central differences can tell; around 1e-2
    or above something is wrong.

    Parameters
    ----------
    a, b : np.ndarray, equal shapes (or scalars)

    Returns
    -------
    float
        0.0 for empty arrays.

    Raises
    ------
    ValueError
        If the shapes differ (broadcasting would hide bugs here).
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"rel_error: shapes must be equal, got {a.shape} and {b.shape}")
    return float(np.max(_relative_errors(a, b), initial=0.0))


def _named_inputs(
    inputs: Sequence[np.ndarray] | Mapping[str, np.ndarray], names: Sequence[str] | None
) -> tuple[list[str], list[np.ndarray]]:
    """Names and float64 copies of the inputs of :func:`check_gradients`."""
    if isinstance(inputs, Mapping):
        if names is not None:
            raise ValueError("check_gradients: pass names only when inputs is a sequence")
        names, inputs = list(inputs.keys()), list(inputs.values())
    elif names is None:
        names = [f"inputs[{i}]" for i in range(len(inputs))]
    if len(names) != len(inputs):
        raise ValueError(f"check_gradients: got {len(names)} names for {len(inputs)} inputs")
    return list(names), [np.array(a, dtype=np.float64) for a in inputs]


def _run_forward(
    forward: Callable[..., tuple[Any, Any]], arrays: list[np.ndarray], names: list[str]
) -> tuple[np.ndarray, Any]:
    """``forward(*arrays)`` with checks that it returns ``(out, cache)`` and leaves arrays alone."""
    originals = [a.copy() for a in arrays]
    result = forward(*arrays)
    if not (isinstance(result, tuple) and len(result) == 2):
        raise AssertionError(
            f"forward must return a tuple (out, cache), got {type(result).__name__}"
        )
    for name, array, original in zip(names, arrays, originals, strict=True):
        if not np.array_equal(array, original, equal_nan=True):
            raise AssertionError(f"forward modified its input '{name}' in place; work on a copy")
    return np.asarray(result[0], dtype=np.float64), result[1]


def _run_backward(
    backward: Callable[[np.ndarray, Any], Any],
    dout: np.ndarray,
    cache: Any,
    arrays: list[np.ndarray],
    names: list[str],
) -> list[np.ndarray]:
    """``backward(dout, cache)`` as one float64 gradient per input, shaped like that input."""
    dout_copy = dout.copy()
    grads = backward(dout_copy, cache)
    if not np.array_equal(dout_copy, dout, equal_nan=True):
        raise AssertionError("backward modified dout in place; compute the gradient in a new array")
    if grads is None:
        raise AssertionError("backward returned None: did you forget `return`?")
    if not isinstance(grads, tuple | list):
        grads = (grads,)
    if len(grads) != len(arrays):
        raise AssertionError(
            f"backward returned {len(grads)} gradient(s) for {len(arrays)} input(s) "
            f"({', '.join(names)}); return one per input, in order"
        )
    checked = []
    for name, array, grad in zip(names, arrays, grads, strict=True):
        if grad is None:
            raise AssertionError(f"backward returned None as the gradient for '{name}'")
        grad = np.asarray(grad, dtype=np.float64)
        if grad.shape != array.shape:
            raise AssertionError(
                f"the gradient for '{name}' has shape {grad.shape}, but '{name}' has shape "
                f"{array.shape}; a gradient always has the shape of its input"
            )
        checked.append(grad)
    return checked


def check_gradients(
    forward: Callable[..., tuple[Any, Any]],
    backward: Callable[[np.ndarray, Any], Any],
    inputs: Sequence[np.ndarray] | Mapping[str, np.ndarray],
    dout: np.ndarray | None = None,
    names: Sequence[str] | None = None,
    rtol: float = 1e-7,
    h: float = 1e-5,
    seed: int = 0,
) -> dict[str, float]:
    """Compare an analytic backward pass with numerical gradients for every input.

    Runs ``out, cache = forward(*inputs)`` and ``backward(dout, cache)``, then estimates the
    gradient of ``sum(out * dout)`` with respect to each input by central differences. The
    inputs are copied first, so the arrays passed in are never modified.

    Parameters
    ----------
    forward : callable
        ``forward(*inputs) -> (out, cache)``. Wrap layers with extra arguments, e.g.
        ``lambda x: leaky_relu_forward(x, 0.2)``.
    backward : callable
        ``backward(dout, cache)`` returns the gradient of each input, in input order: a tuple,
        or a single array when there is one input.
    inputs : sequence of np.ndarray, or mapping from name to np.ndarray
        The forward inputs, converted to float64. A mapping is passed positionally in its order
        and its keys name the inputs in messages and in the result.
    dout : np.ndarray, shape of out, optional
        Upstream gradient; if None, standard normal values drawn with ``seed``.
    names : sequence of str, optional
        Names of the inputs when ``inputs`` is a sequence; default ``inputs[0]``, ``inputs[1]``...
    rtol : float
        Largest relative error (see :func:`rel_error`) accepted for each input.
    h : float
        Step size of the central differences.
    seed : int
        Seed for drawing ``dout``.

    Returns
    -------
    dict of str to float
        Relative error of each input's gradient, keyed by name.

    Raises
    ------
    AssertionError
        If a gradient's relative error exceeds ``rtol`` (the message names the input, the worst
        index, the analytic and numerical values there and the error), if ``forward`` does not
        return ``(out, cache)``, if ``backward`` returns the wrong number or shapes of
        gradients, or if ``forward`` or ``backward`` modify their arguments in place.
    ValueError
        If ``names`` does not fit ``inputs`` or ``dout`` does not have the shape of ``out``.
    """
    names, arrays = _named_inputs(inputs, names)
    out, cache = _run_forward(forward, arrays, names)
    if dout is None:
        dout = np.random.default_rng(seed).standard_normal(out.shape)
    dout = np.array(dout, dtype=np.float64)
    if dout.shape != out.shape:
        raise ValueError(f"check_gradients: dout has shape {dout.shape} but out has {out.shape}")
    grads = _run_backward(backward, dout, cache, arrays, names)

    errors: dict[str, float] = {}
    failures: list[str] = []
    for name, array, grad in zip(names, arrays, grads, strict=True):
        # array is one of the copies that forward reads, so perturbing it changes out.
        numerical = numerical_gradient_array(lambda _: forward(*arrays)[0], array, dout, h)
        elementwise = _relative_errors(grad, numerical)
        errors[name] = float(np.max(elementwise, initial=0.0))
        if errors[name] > rtol:
            worst = tuple(int(i) for i in np.unravel_index(np.argmax(elementwise), grad.shape))
            failures.append(
                f"gradient check failed for '{name}': relative error {errors[name]:.3g} > "
                f"rtol {rtol:g}, worst at index {worst}: analytic {grad[worst]:.10g}, "
                f"numerical {numerical[worst]:.10g}"
            )
    if failures:
        raise AssertionError("\n".join(failures))
    return errors
