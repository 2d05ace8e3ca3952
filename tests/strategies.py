"""Hypothesis strategies shared by the test suite.

Values come from bounded ranges of finite float64 numbers, so that a test failure points at a
bug rather than at overflow in the oracle. Shapes are small to keep the suite fast.
"""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

__all__ = [
    "finite_floats",
    "float_arrays",
    "shapes",
    "seeds",
    "affine_inputs",
    "scores_and_labels",
]

seeds = st.integers(min_value=0, max_value=2**32 - 1)


def finite_floats(min_value: float = -10.0, max_value: float = 10.0) -> st.SearchStrategy[float]:
    """Finite float64 numbers in ``[min_value, max_value]``."""
    return st.floats(min_value, max_value, allow_nan=False, allow_infinity=False, width=64)


def shapes(
    min_dims: int = 1, max_dims: int = 4, min_side: int = 1, max_side: int = 5
) -> st.SearchStrategy[tuple[int, ...]]:
    """Shapes of ``min_dims`` to ``max_dims`` axes, each ``min_side`` to ``max_side`` long."""
    return hnp.array_shapes(
        min_dims=min_dims, max_dims=max_dims, min_side=min_side, max_side=max_side
    )


def float_arrays(
    shape: tuple[int, ...] | st.SearchStrategy[tuple[int, ...]],
    min_value: float = -10.0,
    max_value: float = 10.0,
) -> st.SearchStrategy[np.ndarray]:
    """Float64 arrays of a fixed or drawn shape with finite values in the given range."""
    return hnp.arrays(np.float64, shape, elements=finite_floats(min_value, max_value))


@st.composite
def affine_inputs(
    draw: st.DrawFn, max_feature_dims: int = 3, max_side: int = 4, scale: float = 10.0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(x, w, b)`` for an affine layer: x of shape (N, d_1, ..., d_k), w (D, M), b (M,)."""
    x = draw(float_arrays(shapes(2, 1 + max_feature_dims, 1, max_side), -scale, scale))
    d = int(np.prod(x.shape[1:]))
    m = draw(st.integers(1, 5))
    w = draw(float_arrays((d, m), -scale, scale))
    b = draw(float_arrays((m,), -scale, scale))
    return x, w, b


@st.composite
def scores_and_labels(
    draw: st.DrawFn, max_batch: int = 6, max_classes: int = 6, scale: float = 10.0
) -> tuple[np.ndarray, np.ndarray]:
    """Class scores of shape (N, C) in ``[-scale, scale]`` and int64 labels of shape (N,)."""
    n = draw(st.integers(1, max_batch))
    c = draw(st.integers(1, max_classes))
    scores = draw(float_arrays((n, c), -scale, scale))
    labels = draw(hnp.arrays(np.int64, (n,), elements=st.integers(0, c - 1)))
    return scores, labels
