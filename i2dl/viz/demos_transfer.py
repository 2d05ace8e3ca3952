"""Plots and the interactive demo of lecture 11: how transfer learning depends on the label count.

The lecture trains every model itself and passes the results in; nothing here trains, so the
demo redraws instantly and always shows the same runs. Results are test accuracies recorded
after every epoch, as a dict from a method's name to an array of shape
(n_sizes, n_seeds, n_epochs): one row per number of labelled target images per class, one
column per seed.

``final_accuracy`` reduces them to the last epoch, ``plot_accuracy_vs_labels`` draws the mean
over seeds against the number of labels, ``plot_training_curves`` draws the accuracy during
training for one label count, and ``transfer_demo`` puts both side by side with a slider over
the label count.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import ipywidgets as widgets
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from i2dl.viz.interactive import InteractiveFigure

__all__ = [
    "final_accuracy",
    "mean_and_spread",
    "plot_accuracy_vs_labels",
    "plot_training_curves",
    "transfer_demo",
]

_LAYOUT = {"width": "460px"}
_STYLE = {"description_width": "150px"}


def _checked(curves: Mapping[str, np.ndarray], n_sizes: int | None = None) -> dict:
    if not curves:
        raise ValueError("curves is empty: pass at least one method's accuracies.")
    arrays = {name: np.asarray(values, dtype=float) for name, values in curves.items()}
    for name, values in arrays.items():
        if values.ndim != 3:
            raise ValueError(
                f"curves[{name!r}] has shape {values.shape}; expected (n_sizes, n_seeds, "
                "n_epochs)."
            )
        if n_sizes is not None and values.shape[0] != n_sizes:
            raise ValueError(
                f"curves[{name!r}] has {values.shape[0]} rows but there are {n_sizes} label "
                "counts; expected one row per label count."
            )
    return arrays


def final_accuracy(curves: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The accuracy after the last epoch of every run.

    Parameters
    ----------
    curves : dict[str, array of shape (n_sizes, n_seeds, n_epochs)]
        Test accuracy after every epoch, per method.

    Returns
    -------
    dict[str, ndarray of shape (n_sizes, n_seeds)]
    """
    return {name: values[:, :, -1] for name, values in _checked(curves).items()}


def mean_and_spread(accuracy: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean, minimum and maximum over seeds (the last axis).

    Parameters
    ----------
    accuracy : array of shape (..., n_seeds)

    Returns
    -------
    (mean, low, high) : three arrays of shape (...)
    """
    accuracy = np.asarray(accuracy, dtype=float)
    return accuracy.mean(axis=-1), accuracy.min(axis=-1), accuracy.max(axis=-1)


def plot_accuracy_vs_labels(
    ax: Axes, labels_per_class: Sequence[int], curves: Mapping[str, np.ndarray],
    highlight: int | None = None,
) -> Axes:
    """Final test accuracy against the number of labelled images per class, one line per method.

    Each line is the mean over seeds; the shaded band runs from the worst to the best seed.

    Parameters
    ----------
    ax : matplotlib Axes
    labels_per_class : sequence of int, length n_sizes
        The label counts the rows of ``curves`` were trained with.
    curves : dict[str, array of shape (n_sizes, n_seeds, n_epochs)]
    highlight : int or None
        A label count to mark with a vertical line.

    Returns
    -------
    ax : matplotlib Axes
    """
    sizes = np.asarray(labels_per_class)
    for colour, (name, accuracy) in enumerate(final_accuracy(_checked(curves, len(sizes))).items()):
        mean, low, high = mean_and_spread(accuracy)
        ax.plot(sizes, mean, "o-", color=f"C{colour}", label=name)
        ax.fill_between(sizes, low, high, color=f"C{colour}", alpha=0.15, lw=0)
    if highlight is not None:
        ax.axvline(highlight, color="0.4", ls=":", lw=1.5)
    ax.set_xscale("log")
    ax.set_xticks(sizes, [str(size) for size in sizes])
    ax.minorticks_off()
    ax.set(xlabel="labelled target images per class", ylabel="test accuracy (last epoch)")
    ax.grid(True, alpha=0.3)
    return ax


def plot_training_curves(
    ax: Axes, curves: Mapping[str, np.ndarray], steps_per_epoch: int,
) -> Axes:
    """Test accuracy during training for one label count, one line per method.

    Thick lines are means over seeds, thin lines the single seeds.

    Parameters
    ----------
    ax : matplotlib Axes
    curves : dict[str, array of shape (n_seeds, n_epochs)]
        Test accuracy after every epoch, per method.
    steps_per_epoch : int
        Optimisation steps per epoch, to label the horizontal axis in steps.

    Returns
    -------
    ax : matplotlib Axes
    """
    for colour, (name, values) in enumerate(curves.items()):
        values = np.asarray(values, dtype=float)
        if values.ndim != 2:
            raise ValueError(
                f"curves[{name!r}] has shape {values.shape}; expected (n_seeds, n_epochs)."
            )
        steps = steps_per_epoch * np.arange(1, values.shape[1] + 1)
        ax.plot(steps, values.T, color=f"C{colour}", lw=0.7, alpha=0.5)
        ax.plot(steps, values.mean(axis=0), "o-", color=f"C{colour}", lw=2, label=name)
    ax.set(xlabel="optimisation steps on the target task", ylabel="test accuracy")
    ax.grid(True, alpha=0.3)
    return ax


def transfer_demo(
    labels_per_class: Sequence[int], curves: Mapping[str, np.ndarray], steps_per_epoch: int,
    chance: float | None = None,
) -> InteractiveFigure:
    """A slider over the label count: where each method stands, and how it got there.

    Left: final accuracy against the label count (``plot_accuracy_vs_labels``) with the
    selected count marked. Right: the accuracy during training at that count
    (``plot_training_curves``), with each method's mean final accuracy in the legend.

    Parameters
    ----------
    labels_per_class : sequence of int, length n_sizes
    curves : dict[str, array of shape (n_sizes, n_seeds, n_epochs)]
        Test accuracy after every epoch, per method, e.g. computed in the lecture.
    steps_per_epoch : int
        Optimisation steps per epoch.
    chance : float or None
        Accuracy of guessing, drawn as a dashed line on both panels.

    Returns
    -------
    InteractiveFigure
        Its only control, ``"labels"``, selects one of ``labels_per_class`` (default: the
        smallest).
    """
    sizes = [int(size) for size in labels_per_class]
    arrays = _checked(curves, len(sizes))
    finals = final_accuracy(arrays)
    low = min(float(values.min()) for values in arrays.values())
    bottom = min(low, chance if chance is not None else low) - 0.05

    def draw(fig: Figure, labels: int) -> None:
        row = sizes.index(labels)
        left, right = fig.subplots(1, 2)
        plot_accuracy_vs_labels(left, sizes, arrays, highlight=labels)
        # The legend carries each method's mean final accuracy at this label count.
        plot_training_curves(
            right,
            {f"{name}: {100 * finals[name][row].mean():.0f} %": values[row]
             for name, values in arrays.items()},
            steps_per_epoch,
        )
        left.set_title("final accuracy, mean and range over seeds", fontsize=10)
        right.set_title(f"during training, {labels} labels per class", fontsize=10)
        for ax in (left, right):
            if chance is not None:
                ax.axhline(chance, color="k", ls="--", lw=1)
            ax.set_ylim(bottom, 1.0)
        right.legend(loc="lower right", fontsize=8, title="final accuracy",
                     title_fontsize=8)

    slider = widgets.SelectionSlider(
        options=sizes, value=sizes[0], description="labels per class",
        continuous_update=False, layout=_LAYOUT, style=_STYLE,
    )
    return InteractiveFigure(draw, {"labels": slider}, figsize=(11, 4))
