"""Self-checks for exercise notebooks, with messages that say what to look at.

``assert_close(your_result, expected)`` passes silently or raises an AssertionError explaining
the difference: a missing ``return``, a wrong shape, an integer dtype, or which entry differs
most and by how much. ``rel_error`` and ``check_gradients`` are re-exported from
:mod:`i2dl.gradcheck` so that one import serves a notebook.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from i2dl.gradcheck import check_gradients, rel_error

__all__ = ["assert_close", "rel_error", "check_gradients"]


def _shape_hint(actual: tuple[int, ...], expected: tuple[int, ...]) -> str:
    """A suggestion for common shape mistakes, or an empty string."""
    if tuple(s for s in actual if s != 1) == tuple(s for s in expected if s != 1):
        return (
            "the shapes differ only in axes of length 1: check keepdims=True, or an extra or "
            "missing None/np.newaxis"
        )
    if len(expected) == 0:
        return "a single number was expected: did you forget to sum or average (np.mean)?"
    if len(actual) == 0:
        return "an array was expected: did you reduce over all axes instead of one (axis=...)?"
    if actual == expected[::-1]:
        return "the shape is the transpose of the expected one: check .T and the order of a product"
    if np.prod(actual) == np.prod(expected):
        return (
            "the number of entries is right but they are arranged differently: check reshape "
            "calls; a gradient must have the shape of the input it belongs to"
        )
    return ""


def _value_hint(actual: np.ndarray, expected: np.ndarray) -> str:
    """Name a constant factor between the arrays (sign flip, missing 1/N), or an empty string."""
    nonzero = expected != 0
    if nonzero.sum() < 2 or np.any(actual[~nonzero] != 0):
        return ""
    ratios = actual[nonzero] / expected[nonzero]
    factor = ratios.flat[0]
    if np.isclose(factor, 1.0) or not np.allclose(ratios, factor, rtol=1e-6, atol=0.0):
        return ""
    return (
        f"your result is {factor:.6g} times the expected one everywhere: look for a flipped sign "
        "or a missing or extra factor (such as dividing by N for a mean)"
    )


def _check_array(actual: Any, expected: Any, rtol: float, atol: float, name: str) -> None:
    """Compare one array or scalar; raise AssertionError with an explanation."""
    if actual is None:
        raise AssertionError(f"{name}: your function returned None: did you forget `return`?")
    expected = np.asarray(expected)
    if isinstance(actual, tuple):
        raise AssertionError(
            f"{name}: expected a single array of shape {expected.shape}, got a tuple of "
            f"{len(actual)} items: did you return more than one value, e.g. (out, cache)?"
        )
    actual = np.asarray(actual)
    if not (np.issubdtype(actual.dtype, np.number) or actual.dtype == np.bool_):
        raise AssertionError(
            f"{name}: expected numbers, got an array of dtype {actual.dtype}; "
            "check what your function returns"
        )
    if actual.shape != expected.shape:
        hint = _shape_hint(actual.shape, expected.shape)
        raise AssertionError(
            f"{name} has shape {actual.shape}, but shape {expected.shape} was expected"
            + (f"\n  hint: {hint}" if hint else "")
        )
    if np.issubdtype(expected.dtype, np.inexact) and not np.issubdtype(actual.dtype, np.inexact):
        raise AssertionError(
            f"{name} has dtype {actual.dtype}, but floating point ({expected.dtype}) was expected: "
            "an integer array truncates what is stored in it; create arrays with "
            "dtype=np.float64 (e.g. np.zeros_like(x, dtype=np.float64))"
        )

    got = actual.astype(np.float64)
    want = expected.astype(np.float64)
    with np.errstate(invalid="ignore"):  # inf - inf and inf / inf are handled as mismatches
        abs_err = np.abs(got - want)
        allowed = atol + rtol * np.abs(want)
        same = (got == want) | (np.isnan(got) & np.isnan(want))
        ok = same | (abs_err <= allowed)
        if ok.all():
            return
        # The worst entry is the one that exceeds its own tolerance by the largest factor.
        excess = np.where(ok, 0.0, np.nan_to_num(abs_err / allowed, nan=np.inf))

    nonfinite = ~np.isfinite(got) & ~same
    if nonfinite.any():
        first = tuple(int(i) for i in np.argwhere(nonfinite)[0])
        raise AssertionError(
            f"{name} contains {int(nonfinite.sum())} nan or inf value(s) where finite values "
            f"were expected (the first at index {first}: got {got[first]}, expected "
            f"{want[first]}): look for exp overflowing, log(0) or 0/0, and use a numerically "
            "stable formula"
        )
    worst = np.unravel_index(np.argmax(excess), excess.shape)
    where = f" at index {tuple(int(i) for i in worst)}" if actual.ndim else ""
    lines = [
        f"{name} does not match the expected value: {int((~ok).sum())} of {ok.size} entries "
        f"differ (rtol={rtol:g}, atol={atol:g})",
        f"  max abs error: {np.nanmax(abs_err):.3g}, "
        f"max relative error: {rel_error(got, want):.3g}",
        f"  worst{where}: got {got[worst]:.10g}, expected {want[worst]:.10g}",
    ]
    hint = _value_hint(got, want)
    if hint:
        lines.append(f"  hint: {hint}")
    if actual.dtype.kind == "f" and actual.dtype.itemsize < 8:
        lines.append(
            f"  hint: your result has dtype {actual.dtype}, which keeps only about "
            f"{np.finfo(actual.dtype).precision} significant digits; compute in float64"
        )
    raise AssertionError("\n".join(lines))


def assert_close(
    actual: Any,
    expected: Any,
    rtol: float = 1e-7,
    atol: float = 1e-9,
    name: str = "value",
) -> None:
    """Check a result against the expected one; explain any difference.

    Entries agree when ``|actual - expected| <= atol + rtol * |expected|``; nan matches nan.

    Parameters
    ----------
    actual : scalar, np.ndarray, or tuple/list of them
        Your result. A tuple or list is compared element by element.
    expected : scalar, np.ndarray, or tuple/list of them
        The reference result, of the same structure.
    rtol, atol : float
        Relative and absolute tolerance.
    name : str
        What the value is called in messages; elements of a tuple are called ``name[i]``.

    Raises
    ------
    AssertionError
        If anything differs. The message names what differs (structure, None, shape, dtype,
        nan/inf, or values with the worst index, both values there and the errors) and a hint
        where the mistake is a common one.
    """
    if not isinstance(expected, tuple | list):
        _check_array(actual, expected, rtol, atol, name)
        return
    if actual is None:
        raise AssertionError(f"{name}: your function returned None: did you forget `return`?")
    if not isinstance(actual, tuple | list) or len(actual) != len(expected):
        found = (
            f"a {type(actual).__name__} of {len(actual)} items"
            if isinstance(actual, tuple | list)
            else f"a single {type(actual).__name__}"
        )
        raise AssertionError(
            f"{name}: expected a {type(expected).__name__} of {len(expected)} items, got {found}"
        )
    failures = []
    for i, (a, e) in enumerate(zip(actual, expected, strict=True)):
        try:
            assert_close(a, e, rtol=rtol, atol=atol, name=f"{name}[{i}]")
        except AssertionError as error:
            failures.append(str(error))
    if failures:
        raise AssertionError("\n".join(failures))
