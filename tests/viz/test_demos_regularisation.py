"""The lecture 8 demo: its training function's numbers, and a figure that follows the controls."""

import matplotlib.pyplot as plt
import numpy as np
import pytest

from i2dl.data import make_moons
from i2dl.losses import cross_entropy_loss
from i2dl.nn import Dropout
from i2dl.viz.demos_regularisation import (
    WEIGHT_DECAYS,
    regularisation_demo,
    train_regularised_mlp,
)

pytestmark = pytest.mark.viz


@pytest.fixture(scope="module")
def moons():
    X, y = make_moons(30, noise=0.3, seed=0)
    X_val, y_val = make_moons(200, noise=0.3, seed=1)
    return X, y, X_val, y_val


def test_recorded_losses_are_the_models_losses_in_eval_mode(moons):
    X, y, X_val, y_val = moons
    run = train_regularised_mlp(X, y, X_val, y_val, dropout=0.5, steps=60)
    assert not run.model.training
    assert list(run.steps) == [0, 10, 20, 30, 40, 50, 60]
    assert run.train_loss[-1] == pytest.approx(cross_entropy_loss(run.model(X), y)[0])
    assert run.val_loss[-1] == pytest.approx(cross_entropy_loss(run.model(X_val), y_val)[0])
    assert run.val_accuracy == pytest.approx(np.mean(run.model(X_val).argmax(axis=1) == y_val))
    # Eval mode: dropout is off, so the same input gives the same output.
    np.testing.assert_array_equal(run.model(X_val), run.model(X_val))
    assert sum(isinstance(layer, Dropout) for layer in run.model) == 2


def test_weight_norm_counts_weights_only(moons):
    run = train_regularised_mlp(*moons, steps=5)
    weights = [p for name, p in run.model.params.items() if name.endswith("weight")]
    assert len(weights) == 3
    assert run.weight_norm == pytest.approx(np.sqrt(sum(np.sum(w**2) for w in weights)))


def test_same_arguments_give_the_same_run(moons):
    first = train_regularised_mlp(*moons, weight_decay=1e-3, dropout=0.3, steps=50)
    second = train_regularised_mlp(*moons, weight_decay=1e-3, dropout=0.3, steps=50)
    np.testing.assert_array_equal(first.val_loss, second.val_loss)


def test_weight_decay_shrinks_the_weights_and_trades_training_for_validation_loss(moons):
    runs = {decay: train_regularised_mlp(*moons, weight_decay=decay) for decay in (0, 1e-2, 0.1)}
    norms = [runs[decay].weight_norm for decay in (0, 1e-2, 0.1)]
    assert norms[0] > norms[1] > norms[2]
    train_losses = [runs[decay].train_loss[-1] for decay in (0, 1e-2, 0.1)]
    assert train_losses[0] < train_losses[1] < train_losses[2]
    # The unregularised network overfits its 30 points: its validation loss ends far above
    # its own minimum, and weight decay keeps it down.
    assert runs[0].val_loss[-1] > 1.5 * runs[0].val_loss.min()
    assert runs[1e-2].val_loss[-1] < 0.5 * runs[0].val_loss[-1]


def test_demo_redraws_when_each_control_moves():
    demo = regularisation_demo(steps=50)
    assert list(demo.controls) == ["weight_decay", "dropout", "n_train"]
    assert demo.controls["weight_decay"].options == tuple(
        (f"{value:g}", value) for value in WEIGHT_DECAYS)
    seen = {bytes(demo.image.value)}
    for name, value in [("weight_decay", 1e-2), ("dropout", 0.5), ("n_train", 100)]:
        demo.controls[name].value = value
        png = bytes(demo.image.value)
        assert png not in seen, f"moving {name} did not change the figure"
        seen.add(png)
    assert plt.get_fignums() == []


def test_demo_plots_the_run_for_the_current_controls():
    demo = regularisation_demo(steps=50)
    demo.controls["weight_decay"].value = 1e-3
    demo.controls["n_train"].value = 40
    X, y = make_moons(200, noise=0.3, seed=0)
    X_val, y_val = make_moons(500, noise=0.3, seed=1)
    run = train_regularised_mlp(X[:40], y[:40], X_val, y_val, weight_decay=1e-3, steps=50)
    ax_regions, ax_loss = demo.figure.axes
    (train_line, val_line) = ax_loss.lines
    np.testing.assert_allclose(train_line.get_ydata(), run.train_loss)
    np.testing.assert_allclose(val_line.get_ydata(), run.val_loss)
    assert f"val acc {run.val_accuracy:.2f}" in ax_regions.get_title()
    assert len(ax_regions.collections[-1].get_offsets()) == 40
