"""The lecture 11 plots and demo: what they draw is the data passed in, and the slider acts."""

import matplotlib.pyplot as plt
import numpy as np
import pytest

from i2dl.viz.demos_transfer import (
    final_accuracy,
    mean_and_spread,
    plot_accuracy_vs_labels,
    plot_training_curves,
    transfer_demo,
)

pytestmark = pytest.mark.viz

SIZES = (5, 10, 25, 100)
STEPS_PER_EPOCH = 20


@pytest.fixture
def curves():
    rng = np.random.default_rng(0)
    # (n_sizes, n_seeds, n_epochs); two methods with clearly different levels.
    return {"scratch": rng.uniform(0.3, 0.6, size=(4, 3, 5)),
            "fine-tuned": rng.uniform(0.7, 0.95, size=(4, 3, 5))}


def _mean_line(ax, label):
    return next(line for line in ax.get_lines() if line.get_label() == label)


def test_final_accuracy_is_the_last_epoch(curves):
    final = final_accuracy(curves)
    assert set(final) == set(curves)
    np.testing.assert_array_equal(final["scratch"], curves["scratch"][:, :, -1])
    assert final["fine-tuned"].shape == (4, 3)


def test_mean_and_spread_reduce_over_seeds():
    accuracy = np.array([[0.5, 0.7, 0.6], [0.9, 0.8, 1.0]])
    mean, low, high = mean_and_spread(accuracy)
    np.testing.assert_allclose(mean, [0.6, 0.9])
    np.testing.assert_array_equal(low, [0.5, 0.8])
    np.testing.assert_array_equal(high, [0.7, 1.0])


def test_accuracy_plot_draws_the_mean_final_accuracy_per_label_count(curves):
    _, ax = plt.subplots()
    plot_accuracy_vs_labels(ax, SIZES, curves, highlight=25)
    for name, values in curves.items():
        x, y = _mean_line(ax, name).get_data()
        np.testing.assert_array_equal(x, SIZES)
        np.testing.assert_allclose(y, values[:, :, -1].mean(axis=1))
    assert ax.get_xscale() == "log"
    assert len(ax.collections) == len(curves), "one min-max band per method"
    vertical = [line for line in ax.get_lines() if np.ptp(line.get_xdata()) == 0]
    assert vertical and vertical[0].get_xdata()[0] == 25


def test_training_curves_are_indexed_by_steps(curves):
    _, ax = plt.subplots()
    per_method = {name: values[2] for name, values in curves.items()}  # 25 labels per class
    plot_training_curves(ax, per_method, STEPS_PER_EPOCH)
    x, y = _mean_line(ax, "scratch").get_data()
    np.testing.assert_array_equal(x, [20, 40, 60, 80, 100])
    np.testing.assert_allclose(y, curves["scratch"][2].mean(axis=0))


def test_wrong_shapes_are_rejected_with_a_message(curves):
    _, ax = plt.subplots()
    with pytest.raises(ValueError, match="n_sizes, n_seeds, n_epochs"):
        plot_accuracy_vs_labels(ax, SIZES, {"scratch": curves["scratch"][0]})
    with pytest.raises(ValueError, match="one row per label count"):
        plot_accuracy_vs_labels(ax, SIZES[:3], curves)
    with pytest.raises(ValueError, match="n_seeds, n_epochs"):
        plot_training_curves(ax, {"scratch": curves["scratch"]}, STEPS_PER_EPOCH)


def test_demo_follows_the_slider(curves):
    demo = transfer_demo(SIZES, curves, steps_per_epoch=STEPS_PER_EPOCH, chance=1 / 3)
    slider = demo.controls["labels"]
    assert list(slider.options) == list(SIZES) and slider.value == 5
    first_png = demo.image.value

    slider.value = 100
    assert demo.image.value != first_png
    left, right = demo.figure.axes
    # Left: the marker moved to the selected label count.
    assert any(np.ptp(line.get_xdata()) == 0 and line.get_xdata()[0] == 100
               for line in left.get_lines())
    # Right: the curves of the selected row, and their final means in the legend.
    legend = [text.get_text() for text in right.get_legend().get_texts()]
    for name, values in curves.items():
        label = f"{name}: {100 * values[3, :, -1].mean():.0f} %"
        assert label in legend
        np.testing.assert_allclose(_mean_line(right, label).get_ydata(),
                                   values[3].mean(axis=0))
    assert "100 labels per class" in right.get_title()
