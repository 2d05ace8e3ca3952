"""i2dl.viz.plots: the artists each plot draws, and the exact tiling of make_grid."""

import math
from dataclasses import dataclass, field

import matplotlib.pyplot as plt
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from matplotlib.axes import Axes
from matplotlib.collections import PathCollection
from matplotlib.contour import QuadContourSet

from i2dl.viz import (
    make_grid,
    plot_decision_boundary,
    plot_filters,
    plot_learning_curves,
    show_image_grid,
)

pytestmark = pytest.mark.viz


def lines_by_label(ax):
    return {line.get_label(): line for line in ax.lines}


# --- plot_learning_curves ---------------------------------------------------------------------


def test_losses_only_share_one_axes_with_one_line_per_key():
    history = {"train_loss": [3.0, 2.0, 1.5], "val_loss": [3.5, 2.5, 2.0]}
    ax = plot_learning_curves(history)
    assert isinstance(ax, Axes)
    lines = lines_by_label(ax)
    assert set(lines) == {"train_loss", "val_loss"}
    np.testing.assert_array_equal(lines["val_loss"].get_xdata(), [1, 2, 3])
    np.testing.assert_array_equal(lines["val_loss"].get_ydata(), [3.5, 2.5, 2.0])


def test_losses_and_metrics_get_an_axes_each():
    history = {"train_loss": [1.0, 0.5], "val_loss": [1.2, 0.9], "val_accuracy": [0.5, 0.7]}
    loss_ax, metric_ax = plot_learning_curves(history)
    assert set(lines_by_label(loss_ax)) == {"train_loss", "val_loss"}
    assert set(lines_by_label(metric_ax)) == {"val_accuracy"}
    assert loss_ax.figure is metric_ax.figure


def test_keys_select_and_order_the_curves():
    history = {"train_loss": [1.0, 0.5], "val_loss": [1.2, 0.9], "val_accuracy": [0.5, 0.7]}
    ax = plot_learning_curves(history, keys=["val_loss", "train_loss"])
    assert [line.get_label() for line in ax.lines] == ["val_loss", "train_loss"]


def test_per_iteration_and_per_epoch_curves_span_the_same_epochs():
    history = {"train_loss": list(np.linspace(2, 1, 40)), "val_loss": [1.9, 1.5, 1.2, 1.1]}
    lines = lines_by_label(plot_learning_curves(history))
    np.testing.assert_allclose(lines["train_loss"].get_xdata()[[0, -1]], [0.1, 4.0])
    np.testing.assert_array_equal(lines["val_loss"].get_xdata(), [1, 2, 3, 4])


def test_logy_makes_only_the_loss_axis_logarithmic():
    history = {"train_loss": [1.0, 0.1], "val_accuracy": [0.5, 0.9]}
    loss_ax, metric_ax = plot_learning_curves(history, logy=True)
    assert loss_ax.get_yscale() == "log"
    assert metric_ax.get_yscale() == "linear"


def test_draws_into_the_given_axes_and_leaves_the_history_alone():
    history = {"train_loss": [1.0, 0.5], "val_accuracy": [0.5, 0.7]}
    fig, axes = plt.subplots(1, 2)
    returned = plot_learning_curves(history, ax=axes)
    assert returned == (axes[0], axes[1])
    assert history == {"train_loss": [1.0, 0.5], "val_accuracy": [0.5, 0.7]}
    assert len(plt.get_fignums()) == 1


@dataclass
class FakeHistory:
    """Shaped like i2dl.training.History."""

    epoch: list = field(default_factory=lambda: [1, 2])
    train_loss: list = field(default_factory=lambda: [1.0, 0.5])
    val_loss: list = field(default_factory=lambda: [1.1, 0.8])
    val_metric: list = field(default_factory=lambda: [float("nan")] * 2)
    lr: list = field(default_factory=lambda: [0.1, 0.1])
    epoch_time: list = field(default_factory=lambda: [2.0, 2.1])
    best_epoch: int | None = 2
    stop_reason: str = "max_epochs"


def test_a_history_dataclass_plots_its_curves_without_bookkeeping_columns():
    ax = plot_learning_curves(FakeHistory())
    assert isinstance(ax, Axes)
    assert set(lines_by_label(ax)) == {"train_loss", "val_loss"}


@pytest.mark.parametrize(
    ("history", "keys", "error", "match"),
    [
        ({"train_loss": [1.0]}, ["val_loss"], KeyError, "no entry 'val_loss'"),
        ({"train_loss": [[1.0, 2.0]]}, ["train_loss"], ValueError, "1-D list of numbers"),
        ({"train_loss": []}, ["train_loss"], ValueError, "non-empty"),
        ({"stop_reason": "done"}, None, ValueError, "no entry to plot"),
        ([1.0, 2.0], None, TypeError, "dict of lists"),
    ],
)
def test_bad_histories_are_rejected_with_a_clear_error(history, keys, error, match):
    with pytest.raises(error, match=match):
        plot_learning_curves(history, keys=keys)


def test_one_axes_for_losses_and_metrics_is_rejected():
    _, ax = plt.subplots()
    with pytest.raises(ValueError, match="needs 2 Axes"):
        plot_learning_curves({"train_loss": [1.0], "val_accuracy": [0.5]}, ax=ax)


# --- plot_decision_boundary --------------------------------------------------------------------


def blobs():
    rng = np.random.default_rng(0)
    centres = np.array([[-2.0, 0.0], [2.0, 0.0], [0.0, 3.0]])
    y = np.repeat(np.arange(3), 10)
    return centres[y] + 0.5 * rng.standard_normal((30, 2)), y


def nearest_centre_scores(points):
    centres = np.array([[-2.0, 0.0], [2.0, 0.0], [0.0, 3.0]])
    return -np.linalg.norm(points[:, None, :] - centres[None], axis=2)


def test_decision_boundary_has_filled_class_regions_and_the_data_on_top():
    X, y = blobs()
    X_before = X.copy()
    ax = plot_decision_boundary(nearest_centre_scores, X, y, resolution=50)
    contours = [c for c in ax.collections if isinstance(c, QuadContourSet)]
    scatters = [c for c in ax.collections if type(c) is PathCollection]
    assert len(contours) == 1 and len(scatters) == 1
    np.testing.assert_array_equal(contours[0].levels, [-0.5, 0.5, 1.5, 2.5])
    np.testing.assert_array_equal(scatters[0].get_offsets(), X)
    np.testing.assert_array_equal(scatters[0].get_array(), y)
    np.testing.assert_array_equal(X, X_before)


def test_predict_fn_sees_a_grid_covering_the_padded_data():
    X, y = blobs()
    seen = []

    def predict(points):
        seen.append(points)
        return np.argmax(nearest_centre_scores(points), axis=1)

    ax = plot_decision_boundary(predict, X, y, resolution=30, padding=1.0)
    (points,) = seen
    assert points.shape == (900, 2) and points.dtype == np.float64
    np.testing.assert_allclose(points.min(axis=0), X.min(axis=0) - 1.0)
    np.testing.assert_allclose(points.max(axis=0), X.max(axis=0) + 1.0)
    np.testing.assert_allclose(ax.get_xlim(), [X[:, 0].min() - 1.0, X[:, 0].max() + 1.0])


@pytest.mark.parametrize(
    ("X", "y", "predict", "match"),
    [
        (np.zeros((5, 3)), np.zeros(5, int), None, r"shape \(N, 2\)"),
        (np.zeros((5, 2)), np.zeros(4, int), None, r"y must have shape \(N,\) = \(5,\)"),
        (np.zeros((5, 2)), np.full(5, 0.5), None, "class labels"),
        (np.zeros((5, 2)), np.zeros(5, int), lambda p: np.zeros((len(p), 1)), "single score"),
        (np.zeros((5, 2)), np.zeros(5, int), lambda p: np.zeros(3), r"got shape \(3,\)"),
        (np.zeros((5, 2)), np.zeros(5, int), lambda p: np.full(len(p), 0.3), "class labels"),
    ],
)
def test_decision_boundary_rejects_bad_shapes(X, y, predict, match):
    predict = predict or (lambda points: np.zeros(len(points), int))
    with pytest.raises(ValueError, match=match):
        plot_decision_boundary(predict, X, y, resolution=10)


# --- make_grid --------------------------------------------------------------------------------


def test_make_grid_places_tiles_row_by_row_with_exact_padding():
    images = np.arange(5 * 3 * 4, dtype=float).reshape(5, 3, 4)
    grid = make_grid(images, nrow=3, padding=1, pad_value=-1.0)
    assert grid.shape == (2 * (3 + 1) + 1, 3 * (4 + 1) + 1)
    np.testing.assert_array_equal(grid[1:4, 1:5], images[0])
    np.testing.assert_array_equal(grid[1:4, 6:10], images[1])
    np.testing.assert_array_equal(grid[5:8, 1:5], images[3])
    np.testing.assert_array_equal(grid[5:8, 11:15], -1.0)  # the empty sixth tile
    border = np.ones(grid.shape, bool)
    for top in (1, 5):
        for left in (1, 6, 11):
            border[top : top + 3, left : left + 4] = False
    np.testing.assert_array_equal(grid[border], -1.0)


def test_make_grid_keeps_rgb_channels_last_and_squeezes_one_channel():
    rgb = np.random.default_rng(0).random((4, 3, 2, 2))
    grid = make_grid(rgb, nrow=2, padding=0)
    assert grid.shape == (4, 4, 3)
    np.testing.assert_array_equal(grid[:2, 2:], np.moveaxis(rgb[1], 0, -1))
    grey = rgb[:, :1]
    np.testing.assert_array_equal(make_grid(grey, nrow=2), make_grid(grey[:, 0], nrow=2))


def test_make_grid_defaults_to_a_square_layout_and_does_not_mutate():
    images = np.ones((10, 2, 2))
    grid = make_grid(images, padding=0)
    assert grid.shape == (3 * 2, 4 * 2)  # ceil(sqrt(10)) = 4 images per row
    np.testing.assert_array_equal(images, 1.0)


@settings(max_examples=30, deadline=None)
@given(
    n=st.integers(1, 7), h=st.integers(1, 4), w=st.integers(1, 4),
    nrow=st.integers(1, 8), padding=st.integers(0, 3),
)
def test_make_grid_holds_every_image_and_pad_elsewhere(n, h, w, nrow, padding):
    images = np.arange(1, n * h * w + 1, dtype=float).reshape(n, h, w)
    grid = make_grid(images, nrow=nrow, padding=padding, pad_value=0.0)
    cols = min(nrow, n)
    rows = math.ceil(n / cols)
    assert grid.shape == (rows * (h + padding) + padding, cols * (w + padding) + padding)
    for k in range(n):
        top = padding + (k // cols) * (h + padding)
        left = padding + (k % cols) * (w + padding)
        np.testing.assert_array_equal(grid[top : top + h, left : left + w], images[k])
    assert np.count_nonzero(grid) == images.size


@pytest.mark.parametrize(
    ("images", "kwargs", "match"),
    [
        (np.zeros((2, 2, 3, 3)), {}, r"C in \{1, 3\}"),
        (np.zeros((3, 3)), {}, r"\(N, H, W\)"),
        (np.zeros((2, 3, 3, 3, 1)), {}, "channels-last"),
        (np.zeros((2, 3, 3)), {"nrow": 0}, "nrow"),
        (np.zeros((2, 3, 3)), {"padding": -1}, "padding"),
    ],
)
def test_make_grid_rejects_bad_input(images, kwargs, match):
    with pytest.raises(ValueError, match=match):
        make_grid(images, **kwargs)


# --- show_image_grid --------------------------------------------------------------------------


def test_show_image_grid_shows_the_normalised_grid_and_one_label_per_image():
    images = np.random.default_rng(0).normal(size=(6, 1, 5, 5))
    ax = show_image_grid(images, labels=list("abcdef"), nrow=3)
    (image,) = ax.images
    scaled = (images - images.min()) / (images.max() - images.min())
    np.testing.assert_allclose(image.get_array(), make_grid(scaled, nrow=3, pad_value=1.0))
    assert [text.get_text() for text in ax.texts] == list("abcdef")
    assert image.get_clim() == (0.0, 1.0)


def test_show_image_grid_shows_rgb_in_colour():
    ax = show_image_grid(np.random.default_rng(0).random((4, 3, 6, 6)), normalize=False)
    assert ax.images[0].get_array().shape == (2 * 8 + 2, 2 * 8 + 2, 3)


def test_show_image_grid_rejects_bad_labels_and_out_of_range_rgb():
    with pytest.raises(ValueError, match="labels has 2 entries but there are 3"):
        show_image_grid(np.zeros((3, 4, 4)), labels=["a", "b"])
    with pytest.raises(ValueError, match="divide 0..255 images by 255"):
        show_image_grid(np.full((2, 3, 4, 4), 255.0), normalize=False)


# --- plot_filters -----------------------------------------------------------------------------


def tiles_of(grid, n, kh, kw, cols, padding=1):
    tiles = []
    for k in range(n):
        top = padding + (k // cols) * (kh + padding)
        left = padding + (k % cols) * (kw + padding)
        tiles.append(grid[top : top + kh, left : left + kw])
    return np.array(tiles)


def test_plot_filters_shows_each_rgb_filter_rescaled_on_its_own():
    scales = np.arange(1, 7)[:, None, None, None]
    weights = np.random.default_rng(0).normal(size=(6, 3, 5, 5)) * scales
    before = weights.copy()
    ax = plot_filters(weights, nrow=3)
    (image,) = ax.images
    grid = image.get_array()
    assert grid.shape == (2 * 6 + 1, 3 * 6 + 1, 3)
    tiles = tiles_of(grid, 6, 5, 5, cols=3)
    np.testing.assert_allclose(tiles.min(axis=(1, 2, 3)), 0.0)
    np.testing.assert_allclose(tiles.max(axis=(1, 2, 3)), 1.0)
    expected = (weights[2] - weights[2].min()) / np.ptp(weights[2])
    np.testing.assert_allclose(tiles[2], np.moveaxis(expected, 0, -1))
    np.testing.assert_array_equal(weights, before)


def test_plot_filters_shows_one_channel_of_many_in_grey():
    weights = np.random.default_rng(1).normal(size=(4, 8, 3, 3))
    with pytest.raises(ValueError, match="pass channel=k"):
        plot_filters(weights)
    grid = plot_filters(weights, channel=5).images[0].get_array()
    assert grid.shape == (2 * 4 + 1, 2 * 4 + 1)
    chosen = weights[:, 5]
    expected = (chosen - chosen.min(axis=(1, 2), keepdims=True)) / np.ptp(
        chosen, axis=(1, 2), keepdims=True
    )
    np.testing.assert_allclose(tiles_of(grid, 4, 3, 3, cols=2), expected)


@pytest.mark.parametrize(
    ("weights", "kwargs", "match"),
    [
        (np.zeros((4, 3, 3)), {}, r"\(F, C, KH, KW\)"),
        (np.zeros((4, 2, 3, 3)), {"channel": 2}, "out of range"),
    ],
)
def test_plot_filters_rejects_bad_input(weights, kwargs, match):
    with pytest.raises(ValueError, match=match):
        plot_filters(weights, **kwargs)


def test_a_constant_filter_is_shown_mid_grey():
    grid = plot_filters(np.ones((1, 1, 3, 3))).images[0].get_array()
    np.testing.assert_array_equal(grid[1:4, 1:4], 0.5)
