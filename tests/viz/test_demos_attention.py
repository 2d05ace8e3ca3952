"""The attention demo of lecture 13: its weights agree with PyTorch and its figure follows them."""

import math

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from i2dl.viz.demos_attention import (
    DIMENSIONS,
    attention_demo,
    attention_weights,
    mean_largest_weight,
)

pytestmark = pytest.mark.viz


def shown(demo):
    """Bar heights, value positions and the context star of the demo's current figure."""
    ax_weights, ax_values = demo.figure.axes
    (bars,) = ax_weights.containers
    weights = np.array([bar.get_height() for bar in bars])
    values = np.asarray(ax_values.collections[0].get_offsets())
    star = next(line for line in ax_values.lines if line.get_marker() == "*")
    return weights, values, np.array([star.get_xdata()[0], star.get_ydata()[0]])


def test_weights_equal_pytorch_attention_in_float64():
    rng = np.random.default_rng(0)
    queries, keys, values = rng.normal(size=(5, 16)), rng.normal(size=(7, 16)), rng.normal(
        size=(7, 3))
    weights = attention_weights(queries, keys, scale=1 / math.sqrt(16))
    expected = F.scaled_dot_product_attention(
        *(torch.as_tensor(a)[None] for a in (queries, keys, values)))[0].numpy()
    np.testing.assert_allclose(weights @ values, expected, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(weights.sum(axis=1), 1.0)
    one = attention_weights(queries[2], keys, scale=0.25)
    np.testing.assert_allclose(one, attention_weights(queries, keys, scale=0.25)[2])


def test_weights_are_stable_for_huge_scores_and_do_not_modify_inputs():
    query, keys = np.array([1.0, 0.0]), np.array([[1e3, 0.0], [999.0, 0.0], [0.0, 1.0]])
    copy = keys.copy()
    weights = attention_weights(query, keys)
    assert np.all(np.isfinite(weights))
    np.testing.assert_allclose(weights, [1 / (1 + math.exp(-1)), 1 / (1 + math.e), 0.0],
                               atol=1e-12)
    np.testing.assert_array_equal(keys, copy)


def test_scaling_by_sqrt_d_keeps_the_weights_from_saturating():
    scaled = [mean_largest_weight(d, scaled=True, n_queries=400) for d in DIMENSIONS]
    unscaled = [mean_largest_weight(d, scaled=False, n_queries=400) for d in DIMENSIONS]
    # With the 1/sqrt(d) the scores have variance 1 for every d: the weights look alike.
    assert max(scaled) - min(scaled) < 0.1
    # Without it their spread grows like sqrt(d) and the weights approach one-hot.
    assert np.all(np.diff(unscaled) > 0)
    assert unscaled[-1] > 0.9 and unscaled[0] < 0.5
    # Extreme temperatures: nearly uniform, nearly one-hot.
    assert mean_largest_weight(32, True, temperature=100.0) < 1 / 8 + 0.01
    assert mean_largest_weight(32, True, temperature=0.01) > 0.99


def test_figure_shows_the_weights_and_their_convex_combination():
    demo = attention_demo()
    assert list(demo.controls) == ["dimension", "scaling", "temperature"]
    weights, values, context = shown(demo)
    assert len(weights) == 8
    np.testing.assert_allclose(weights.sum(), 1.0)
    np.testing.assert_allclose(context, weights @ values, atol=1e-12)
    np.testing.assert_allclose(np.linalg.norm(values, axis=1), 1.0)
    assert f"{weights.max():.2f}" in demo.figure.axes[0].get_title()
    # The same query and keys as attention_weights gives, by the documented seeding.
    rng = np.random.default_rng([3, 32])
    query, keys = rng.standard_normal(32), rng.standard_normal((8, 32))
    np.testing.assert_allclose(weights, attention_weights(query, keys, 1 / math.sqrt(32)))


def test_temperature_moves_the_context_between_the_average_and_one_value():
    demo = attention_demo()
    demo.controls["temperature"].value = 10.0
    weights, values, context = shown(demo)
    assert weights.max() < 0.2
    assert np.linalg.norm(context - values.mean(axis=0)) < 0.1
    demo.controls["temperature"].value = 0.1
    weights, values, context = shown(demo)
    assert weights.max() > 0.9
    assert np.min(np.linalg.norm(values - context, axis=1)) < 0.2


def test_demo_redraws_when_each_control_moves():
    demo = attention_demo()
    seen = {bytes(demo.image.value)}
    for name, value in [("dimension", "512"), ("scaling", "none"), ("temperature", 0.3)]:
        demo.controls[name].value = value
        png = bytes(demo.image.value)
        assert png not in seen, f"moving {name} did not change the figure"
        seen.add(png)
    weights, _, _ = shown(demo)
    rng = np.random.default_rng([3, 512])
    query, keys = rng.standard_normal(512), rng.standard_normal((8, 512))
    np.testing.assert_allclose(weights, attention_weights(query, keys, 1 / 0.3), atol=1e-12)
    assert plt.get_fignums() == []


def test_too_few_keys_are_refused():
    with pytest.raises(ValueError, match="at least 2 keys"):
        attention_demo(n_keys=1)
