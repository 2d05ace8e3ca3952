"""Interactive demo for lecture 8: what weight decay, dropout and more data do to a small MLP.

``regularisation_demo()`` trains a two-hidden-layer ReLU network on a few noisy points of the
two-moons problem each time a control moves, and shows the decision regions it learned next to
its training and validation losses during training. The training itself is
``train_regularised_mlp``, a plain function, so that its numbers can be tested and reused.
"""

from __future__ import annotations

from dataclasses import dataclass

import ipywidgets as widgets
import numpy as np
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure

from i2dl.data import make_moons
from i2dl.losses import cross_entropy_loss
from i2dl.nn import Dropout, Linear, ReLU, Sequential
from i2dl.optim import SGD
from i2dl.viz.interactive import InteractiveFigure, float_slider, int_slider

__all__ = ["RegularisedRun", "train_regularised_mlp", "regularisation_demo", "WEIGHT_DECAYS"]

# The weight-decay slider's stops: 0 and then roughly three per decade.
WEIGHT_DECAYS = (0.0, 1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 0.1)

_NOISE = 0.3
_N_VAL = 500
_HIDDEN = 64
_LR, _MOMENTUM = 0.1, 0.9
_RECORD_EVERY = 10
_CLASS_COLOURS = ListedColormap(["#1f77b4", "#ff7f0e"])


@dataclass
class RegularisedRun:
    """What ``train_regularised_mlp`` returns.

    Attributes
    ----------
    model : Sequential
        The trained network, in eval mode (dropout off).
    steps : np.ndarray of int, shape (K,)
        The optimisation steps at which the losses were recorded (0 = before training).
    train_loss, val_loss : np.ndarray, shape (K,)
        Cross-entropy on the training and on the validation set, in eval mode, at ``steps``.
    train_accuracy, val_accuracy : float
        Accuracies of the final model.
    weight_norm : float
        Euclidean norm of all weight matrices together (biases left out).
    """

    model: Sequential
    steps: np.ndarray
    train_loss: np.ndarray
    val_loss: np.ndarray
    train_accuracy: float
    val_accuracy: float
    weight_norm: float


def _evaluate(model: Sequential, X: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    scores = model(X)
    return cross_entropy_loss(scores, y)[0], float(np.mean(scores.argmax(axis=1) == y))


def train_regularised_mlp(
    X: np.ndarray,
    y: np.ndarray,
    X_val: np.ndarray,
    y_val: np.ndarray,
    weight_decay: float = 0.0,
    dropout: float = 0.0,
    steps: int = 400,
    seed: int = 0,
) -> RegularisedRun:
    """Full-batch SGD with momentum on a 2-64-64-2 ReLU MLP with optional regularisation.

    Parameters
    ----------
    X, y : np.ndarray, shapes (N, 2) and (N,)
        Training points and their labels in {0, 1}.
    X_val, y_val : np.ndarray, shapes (M, 2) and (M,)
        Validation points and labels, used only for measuring.
    weight_decay : float
        L2 factor ``lambda`` of ``i2dl.optim.SGD`` (the gradient gets ``lambda * p`` added, for
        every parameter); with plain SGD this is the same as shrinking the weights by
        ``1 - lr * lambda`` before each step.
    dropout : float
        Drop probability of the ``Dropout`` layer after each hidden layer (0 = none).
    steps : int
        Number of full-batch steps (learning rate 0.1, momentum 0.9).
    seed : int
        Seed of the initial weights and of the dropout masks.

    Returns
    -------
    RegularisedRun
    """
    rng = np.random.default_rng(seed)
    layers = [Linear(2, _HIDDEN, seed=rng), ReLU()]
    if dropout > 0:
        layers.append(Dropout(dropout, seed=rng))
    layers += [Linear(_HIDDEN, _HIDDEN, seed=rng), ReLU()]
    if dropout > 0:
        layers.append(Dropout(dropout, seed=rng))
    layers.append(Linear(_HIDDEN, 2, seed=rng))
    model = Sequential(*layers)
    optimizer = SGD(_LR, momentum=_MOMENTUM, weight_decay=weight_decay)
    recorded, train_losses, val_losses = [], [], []
    for step in range(steps + 1):
        if step % _RECORD_EVERY == 0 or step == steps:
            model.eval()
            recorded.append(step)
            train_losses.append(_evaluate(model, X, y)[0])
            val_losses.append(_evaluate(model, X_val, y_val)[0])
        if step == steps:
            break
        model.train()
        _, dscores = cross_entropy_loss(model(X), y)
        model.backward(dscores)
        optimizer.step(model.params, model.grads)
    model.eval()
    weights = [p for name, p in model.params.items() if name.endswith("weight")]
    return RegularisedRun(
        model=model,
        steps=np.array(recorded),
        train_loss=np.array(train_losses),
        val_loss=np.array(val_losses),
        train_accuracy=_evaluate(model, X, y)[1],
        val_accuracy=_evaluate(model, X_val, y_val)[1],
        weight_norm=float(np.sqrt(sum(np.sum(w**2) for w in weights))),
    )


def regularisation_demo(max_train: int = 200, steps: int = 400) -> InteractiveFigure:
    """Weight decay, dropout and the number of training points on a small MLP (lecture 8).

    Each redraw trains ``train_regularised_mlp`` from the same initial weights on the first
    ``n_train`` points of a noisy two-moons set (noise 0.3) and measures it on 500 fresh points.
    Left: the decision regions with the training points. Right: training and validation loss
    during training. With few points and no regularisation the boundary winds around single
    points and the validation loss climbs while the training loss falls. Weight decay smooths
    the boundary and keeps the validation loss down, and too much of it underfits; dropout
    smooths the boundary too, but lets the weights (and the validation loss) grow; more data
    helps most.

    Controls: ``weight_decay`` (a selection slider over ``WEIGHT_DECAYS``), ``dropout`` (0 to
    0.7) and ``n_train`` (10 to ``max_train``).

    Parameters
    ----------
    max_train : int
        Largest number of training points on the slider.
    steps : int
        Full-batch training steps per redraw.
    """
    X_all, y_all = make_moons(max_train, noise=_NOISE, seed=0)
    X_val, y_val = make_moons(_N_VAL, noise=_NOISE, seed=1)
    low, high = X_val.min(axis=0) - 0.3, X_val.max(axis=0) + 0.3
    xx, yy = np.meshgrid(np.linspace(low[0], high[0], 120), np.linspace(low[1], high[1], 120))
    grid = np.column_stack([xx.ravel(), yy.ravel()])

    def draw(fig: Figure, weight_decay: float, dropout: float, n_train: int) -> None:
        X, y = X_all[:n_train], y_all[:n_train]
        run = train_regularised_mlp(X, y, X_val, y_val, weight_decay, dropout, steps)
        ax_regions, ax_loss = fig.subplots(1, 2, width_ratios=[1, 1.1])
        predicted = run.model(grid).argmax(axis=1).reshape(xx.shape)
        ax_regions.contourf(xx, yy, predicted, levels=[-0.5, 0.5, 1.5], cmap=_CLASS_COLOURS,
                            alpha=0.3)
        ax_regions.scatter(X[:, 0], X[:, 1], c=y, cmap=_CLASS_COLOURS, vmin=0, vmax=1,
                           edgecolors="black", linewidths=0.6, s=28)
        ax_regions.set_xlim(low[0], high[0])
        ax_regions.set_ylim(low[1], high[1])
        ax_regions.set_title(
            f"train acc {run.train_accuracy:.2f}, val acc {run.val_accuracy:.2f}, "
            f"|W| = {run.weight_norm:.1f}", fontsize=10)
        ax_loss.plot(run.steps, run.train_loss, label="training loss")
        ax_loss.plot(run.steps, run.val_loss, label="validation loss")
        ax_loss.set_yscale("log")
        # One fixed range, so that curves can be compared as the controls move.
        ax_loss.set_ylim(0.01, 3.0)
        ax_loss.set_xlabel("step")
        ax_loss.set_ylabel("cross-entropy (eval mode)")
        ax_loss.set_title(f"final gap (val - train loss): "
                          f"{run.val_loss[-1] - run.train_loss[-1]:.2f}", fontsize=10)
        ax_loss.grid(True, alpha=0.3)
        ax_loss.legend(fontsize=8)

    decay_slider = widgets.SelectionSlider(
        options=[(f"{value:g}", value) for value in WEIGHT_DECAYS], value=0.0,
        description="weight decay λ", continuous_update=False,
        layout={"width": "460px"}, style={"description_width": "150px"},
    )
    controls = {
        "weight_decay": decay_slider,
        "dropout": float_slider("dropout p", 0.0, 0.0, 0.7, step=0.1),
        "n_train": int_slider("training points", 30, 10, max_train, step=10),
    }
    return InteractiveFigure(draw, controls, figsize=(10.0, 4.2))
