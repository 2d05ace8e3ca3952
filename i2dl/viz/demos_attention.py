"""Interactive demo for lecture 13: how the scale of attention scores shapes the weights.

``attention_demo`` draws one query against a handful of keys and shows the attention weights
``softmax(s * K q / T)`` as bars and the context vector ``sum_j alpha_j v_j`` as a point among
the values, which are placed on a circle in the plane so that a convex combination of them can be
seen. Three controls set the score scale: the dimension ``d`` of queries and keys, whether the
scores are divided by ``sqrt(d)`` (``s = 1 / sqrt(d)``) or not (``s = 1``), and a temperature
``T``. Small scales average all values, large scales pick one: the lookup becomes hard. Without
the ``1 / sqrt(d)`` the spread of the scores grows like ``sqrt(d)``, and the weights of a
high-dimensional model are nearly one-hot before any training. ``mean_largest_weight`` measures
that over many random queries.
"""

from __future__ import annotations

import math

import numpy as np
from matplotlib.figure import Figure

from i2dl.viz.interactive import InteractiveFigure, dropdown, log_slider

__all__ = ["attention_weights", "mean_largest_weight", "attention_demo", "DIMENSIONS"]

# The choices of the dimension control: powers of 4 from 2 to 512.
DIMENSIONS = (2, 8, 32, 128, 512)
_SCALINGS = ("divide by sqrt(d)", "none")


def attention_weights(query: np.ndarray, keys: np.ndarray, scale: float = 1.0) -> np.ndarray:
    """Softmax of the scaled dot products of one or more queries with every key.

    Parameters
    ----------
    query : np.ndarray, shape (d,) or (M, d)
        One query, or M queries as rows.
    keys : np.ndarray, shape (n, d)
        The keys as rows.
    scale : float
        Factor applied to the dot products before the softmax, e.g. ``1 / sqrt(d)``, or
        ``1 / (sqrt(d) T)`` with a temperature ``T``.

    Returns
    -------
    np.ndarray, shape (n,) or (M, n)
        Non-negative weights that sum to 1 over the keys (the last axis).
    """
    scores = scale * (np.asarray(query, dtype=np.float64) @ np.asarray(keys, dtype=np.float64).T)
    # Subtracting the largest score changes nothing mathematically and keeps exp from overflowing.
    scores = scores - scores.max(axis=-1, keepdims=True)
    weights = np.exp(scores)
    return weights / weights.sum(axis=-1, keepdims=True)


def _score_scale(dimension: int, scaled: bool, temperature: float) -> float:
    return (1.0 / math.sqrt(dimension) if scaled else 1.0) / temperature


def mean_largest_weight(
    dimension: int, scaled: bool, temperature: float = 1.0, n_keys: int = 8,
    n_queries: int = 500, seed: int = 0,
) -> float:
    """Average over random queries of the largest attention weight, for random keys.

    Queries and keys have independent standard normal entries, the setting in which the
    dot product ``q . k`` has variance ``d``. A value near ``1 / n_keys`` means the weights are
    spread evenly, a value near 1 that they are nearly one-hot.

    Parameters
    ----------
    dimension : int
        Dimension d of queries and keys.
    scaled : bool
        Divide the scores by ``sqrt(d)``.
    temperature : float
        Divide the scores by this (positive) number as well.
    n_keys, n_queries : int
        Number of keys per query, and of queries (each with its own keys).
    seed : int
        Seed of the random queries and keys.

    Returns
    -------
    float
        In ``[1 / n_keys, 1]``.
    """
    rng = np.random.default_rng(seed)
    queries = rng.standard_normal((n_queries, 1, dimension))
    keys = rng.standard_normal((n_queries, n_keys, dimension))
    scores = np.sum(queries * keys, axis=-1) * _score_scale(dimension, scaled, temperature)
    scores -= scores.max(axis=1, keepdims=True)
    weights = np.exp(scores)
    weights /= weights.sum(axis=1, keepdims=True)
    return float(weights.max(axis=1).mean())


def _entropy_bits(weights: np.ndarray) -> float:
    positive = weights[weights > 0]
    return float(-np.sum(positive * np.log2(positive)))


def attention_demo(n_keys: int = 8, seed: int = 3) -> InteractiveFigure:
    """Attention weights and context vector of one query, under a changing score scale.

    Left: the weights ``alpha = softmax(s * K q)`` of the ``n_keys`` keys, with the uniform
    weight ``1 / n_keys`` as a dashed line. Right: the values ``v_j``, points on the unit circle
    drawn with an area proportional to their weight, the context vector ``alpha @ V`` (a star)
    and the plain average of the values (a cross), where the context lands when all weights are
    equal. For every dimension the query and the keys are drawn once, with standard normal
    entries, from ``seed`` and the dimension, so moving a control and back gives the same picture.

    Parameters
    ----------
    n_keys : int
        Number of keys and values (at least 2).
    seed : int
        Seed of the query and the keys.

    Returns
    -------
    InteractiveFigure
        Controls ``dimension`` (one of ``DIMENSIONS``), ``scaling`` (``"divide by sqrt(d)"`` or
        ``"none"``) and ``temperature`` (log scale, 0.1 to 10); default ``d = 32``, scaled,
        ``T = 1``.
    """
    if n_keys < 2:
        raise ValueError(f"attention needs at least 2 keys, got n_keys={n_keys}.")
    angles = 2.0 * np.pi * np.arange(n_keys) / n_keys
    values = np.stack([np.cos(angles), np.sin(angles)], axis=1)  # (n_keys, 2)

    def draw(fig: Figure, dimension: str, scaling: str, temperature: float) -> None:
        dimension, scaled = int(dimension), scaling == _SCALINGS[0]
        rng = np.random.default_rng([seed, dimension])
        query = rng.standard_normal(dimension)
        keys = rng.standard_normal((n_keys, dimension))
        scale = _score_scale(dimension, scaled, temperature)
        weights = attention_weights(query, keys, scale)
        context = weights @ values
        typical = mean_largest_weight(dimension, scaled, temperature, n_keys, seed=seed)

        ax_weights, ax_values = fig.subplots(1, 2, width_ratios=[1.3, 1])
        positions = np.arange(1, n_keys + 1)
        ax_weights.bar(positions, weights, color="C0", label="attention weight")
        ax_weights.axhline(1.0 / n_keys, color="k", ls="--", lw=1, label=f"uniform 1/{n_keys}")
        ax_weights.set(xticks=positions, ylim=(0, 1.05), xlabel="key j",
                       ylabel=r"weight $\alpha_j$")
        ax_weights.set_title(
            f"largest weight {weights.max():.2f}, entropy {_entropy_bits(weights):.2f} bits "
            f"(uniform: {math.log2(n_keys):.0f})", fontsize=10)
        ax_weights.legend(loc="upper right", fontsize=8)

        ax_values.scatter(values[:, 0], values[:, 1], s=30 + 900 * weights, color="C1",
                          edgecolors="k", zorder=2, label=r"values $v_j$ (area ~ $\alpha_j$)")
        for j, (x, y) in enumerate(values, start=1):
            ax_values.annotate(str(j), (1.22 * x, 1.22 * y), ha="center", va="center",
                               fontsize=9)
        mean = values.mean(axis=0)
        ax_values.plot(*mean, "kx", ms=9, mew=2, label="average of the values")
        ax_values.plot(*context, "*", color="C3", ms=18, mec="k", zorder=3,
                       label=r"context $\sum_j \alpha_j v_j$")
        ax_values.set(xlim=(-1.45, 1.45), ylim=(-1.45, 1.45), aspect="equal",
                      xticks=[], yticks=[])
        ax_values.set_title("values and context vector", fontsize=10)
        ax_values.legend(loc="lower center", fontsize=7, bbox_to_anchor=(0.5, -0.32))

        divisor = f"sqrt({dimension})" if scaled else "1"
        fig.suptitle(
            f"scores q.k / ({divisor} x T) with d = {dimension}, T = {temperature:.2g}: over 500 "
            f"random queries the largest weight averages {typical:.2f}", fontsize=10)

    controls = {
        "dimension": dropdown("dimension d", [str(d) for d in DIMENSIONS], "32"),
        "scaling": dropdown("score scaling", _SCALINGS),
        "temperature": log_slider("temperature T", 1.0, 0.1, 10.0),
    }
    return InteractiveFigure(draw, controls, figsize=(10.0, 4.2))
