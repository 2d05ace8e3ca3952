"""Static plots: learning curves, decision boundaries, image grids and convolution filters.

Every function draws into the matplotlib ``Axes`` passed as ``ax`` or, without one, into a new
pyplot figure, and returns the ``Axes`` it drew on; none calls ``plt.show()``.
``make_grid`` only computes the tiled image, so it can be used (and tested) without plotting.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.colors import Colormap, ListedColormap

__all__ = [
    "plot_learning_curves",
    "plot_decision_boundary",
    "make_grid",
    "show_image_grid",
    "plot_filters",
]

# Bookkeeping columns of a training history that are not learning curves (e.g. in
# i2dl.training.History); plot_learning_curves skips them unless they are asked for by name.
_NOT_CURVES = frozenset({"epoch", "step", "iteration", "lr", "epoch_time", "time"})


def plot_learning_curves(
    history: Mapping[str, Sequence[float]] | Any,
    keys: Sequence[str] | None = None,
    ax: Axes | Sequence[Axes] | None = None,
    logy: bool = False,
    xlabel: str = "epoch",
) -> Axes | tuple[Axes, Axes]:
    """Plot losses and metrics recorded during training, one line per key.

    Keys whose name contains ``"loss"`` are losses, every other key is a metric (accuracy, ...).
    Losses and metrics have different scales, so when both are plotted they get an ``Axes``
    each, side by side, and the pair ``(loss_ax, metric_ax)`` is returned; otherwise a single
    ``Axes`` is returned.

    Curves of different lengths are drawn over the same range: the shortest defines the
    epochs ``1..E`` and a curve with ``n`` points is placed at ``x = (i + 1) * E / n``, so a
    per-iteration training loss lines up with a per-epoch validation loss.

    Parameters
    ----------
    history : mapping of str to sequence of float, or a dataclass such as
        ``i2dl.training.History``
        One list of numbers per quantity, e.g. ``{"train_loss": [...], "val_loss": [...],
        "val_accuracy": [...]}``.
    keys : sequence of str, optional
        The entries to plot, in this order. By default every entry that is a non-empty list of
        numbers, except bookkeeping columns (``epoch``, ``step``, ``iteration``, ``lr``,
        ``epoch_time``, ``time``) and entries that are all NaN.
    ax : Axes or pair of Axes, optional
        Where to draw: one ``Axes`` if only losses or only metrics are plotted, two (losses,
        metrics) if both are. By default a new figure is created.
    logy : bool
        Use a logarithmic y-axis for the losses (metrics keep a linear axis).
    xlabel : str
        Label of the x-axis, e.g. ``"iteration"`` for a per-iteration history.

    Returns
    -------
    Axes or tuple[Axes, Axes]
        The ``Axes`` drawn on, or ``(loss_ax, metric_ax)`` if both kinds were plotted.
    """
    curves = _learning_curves(history, keys)
    losses = [name for name in curves if "loss" in name]
    metrics = [name for name in curves if "loss" not in name]
    groups = [group for group in (losses, metrics) if group]
    axes = _learning_curve_axes(ax, len(groups))
    epochs = min(len(values) for values in curves.values())
    for group, group_ax in zip(groups, axes, strict=True):
        for name in group:
            values = curves[name]
            x = np.arange(1, len(values) + 1) * (epochs / len(values))
            group_ax.plot(x, values, label=name)
        group_ax.set_xlabel(xlabel)
        group_ax.set_ylabel("loss" if group is losses else "metric")
        if logy and group is losses:
            group_ax.set_yscale("log")
        group_ax.grid(True, alpha=0.3)
        group_ax.legend()
    return axes[0] if len(axes) == 1 else (axes[0], axes[1])


def _learning_curves(history: Any, keys: Sequence[str] | None) -> dict[str, np.ndarray]:
    """The curves to plot as 1-D float arrays, keyed by name, after checking them."""
    if dataclasses.is_dataclass(history) and not isinstance(history, type):
        history = {
            field.name: getattr(history, field.name) for field in dataclasses.fields(history)
        }
    if not isinstance(history, Mapping):
        raise TypeError(
            "history must be a dict of lists, e.g. {'train_loss': [...], 'val_loss': [...]}, "
            f"got {type(history).__name__}."
        )
    if keys is None:
        curves = {
            name: _as_curve(values)
            for name, values in history.items()
            if name not in _NOT_CURVES and _is_curve(values)
        }
        if not curves:
            raise ValueError(
                "history has no entry to plot: expected lists of numbers such as "
                f"'train_loss', found keys {sorted(history)}."
            )
        return curves
    if isinstance(keys, str):
        keys = [keys]
    if len(keys) == 0:
        raise ValueError("keys is empty; pass the names of the entries to plot, or None for all.")
    curves = {}
    for name in keys:
        if name not in history:
            raise KeyError(f"history has no entry {name!r}; its keys are {sorted(history)}.")
        values = _as_curve(history[name])
        if values is None:
            raise ValueError(
                f"history[{name!r}] must be a non-empty 1-D list of numbers, got "
                f"{_describe(history[name])}."
            )
        curves[name] = values
    return curves


def _as_curve(values: Any) -> np.ndarray | None:
    """``values`` as a 1-D float64 array, or None if it is not a non-empty list of numbers."""
    if isinstance(values, (str, bytes)) or not isinstance(values, (Sequence, np.ndarray)):
        return None
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        return None
    return array if array.ndim == 1 and array.size > 0 else None


def _is_curve(values: Any) -> bool:
    array = _as_curve(values)
    return array is not None and not np.all(np.isnan(array))


def _describe(values: Any) -> str:
    shape = np.shape(values) if isinstance(values, (Sequence, np.ndarray)) else None
    return f"{type(values).__name__} with shape {shape}" if shape else repr(values)


def _learning_curve_axes(ax: Axes | Sequence[Axes] | None, needed: int) -> list[Axes]:
    if ax is None:
        _, axes = plt.subplots(1, needed, figsize=(5 * needed, 3.5), squeeze=False)
        return list(axes[0])
    given = [ax] if isinstance(ax, Axes) else list(ax)
    if len(given) != needed or not all(isinstance(a, Axes) for a in given):
        kinds = "losses and metrics" if needed == 2 else "one kind of curve"
        raise ValueError(
            f"the curves to plot are {kinds}, which needs {needed} Axes, but ax holds "
            f"{len(given)}; pass {needed} Axes, or choose the curves with keys=."
        )
    return given


def plot_decision_boundary(
    predict_fn: Callable[[np.ndarray], np.ndarray],
    X: np.ndarray,
    y: np.ndarray,
    ax: Axes | None = None,
    resolution: int = 200,
    padding: float = 0.5,
) -> Axes:
    """Colour the plane by the class a classifier predicts, and scatter the data on top.

    Parameters
    ----------
    predict_fn : callable
        Maps points of shape ``(M, 2)`` (float64) to class labels of shape ``(M,)`` or to
        class scores of shape ``(M, K)`` with ``K >= 2``, of which the argmax is taken.
    X : np.ndarray, shape (N, 2)
        The data points.
    y : np.ndarray of int, shape (N,)
        Their class labels, in ``0..K-1``.
    ax : Axes, optional
        Where to draw; by default a new figure is created.
    resolution : int
        Number of grid points along each axis (``predict_fn`` sees ``resolution**2`` points).
    padding : float
        Margin added around the data on every side, in data units.

    Returns
    -------
    Axes
        Holding the filled contours of the predicted classes and a scatter plot of ``X``.
    """
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y)
    if X.ndim != 2 or X.shape[1] != 2 or X.shape[0] == 0:
        raise ValueError(f"X must have shape (N, 2) with N >= 1, got {X.shape}.")
    if y.shape != (X.shape[0],):
        raise ValueError(f"y must have shape (N,) = ({X.shape[0]},) to match X, got {y.shape}.")
    y = _as_labels(y, "y")
    if isinstance(resolution, bool) or not isinstance(resolution, int) or resolution < 2:
        raise ValueError(f"resolution must be an int >= 2, got {resolution!r}.")
    low, high = X.min(axis=0) - padding, X.max(axis=0) + padding
    xx, yy = np.meshgrid(
        np.linspace(low[0], high[0], resolution), np.linspace(low[1], high[1], resolution)
    )
    grid = np.column_stack([xx.ravel(), yy.ravel()])
    predicted = _predicted_labels(predict_fn(grid), len(grid)).reshape(xx.shape)
    n_classes = int(max(y.max(), predicted.max())) + 1
    cmap = _class_colormap(n_classes)
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 4.5))
    ax.contourf(
        xx, yy, predicted, levels=np.arange(n_classes + 1) - 0.5, cmap=cmap, alpha=0.35
    )
    ax.scatter(
        X[:, 0], X[:, 1], c=y, cmap=cmap, vmin=-0.5, vmax=n_classes - 0.5,
        edgecolors="black", linewidths=0.5, s=20,
    )
    ax.set_xlim(low[0], high[0])
    ax.set_ylim(low[1], high[1])
    return ax


def _as_labels(labels: np.ndarray, name: str) -> np.ndarray:
    """Integer class labels, after checking they are whole numbers >= 0."""
    if labels.dtype == bool or not np.issubdtype(labels.dtype, np.number):
        raise ValueError(f"{name} must hold integer class labels, got dtype {labels.dtype}.")
    if not np.all(np.isfinite(labels)) or np.any(labels != np.round(labels)) or np.any(labels < 0):
        raise ValueError(
            f"{name} must hold class labels 0, 1, 2, ...; found values such as "
            f"{labels[(labels != np.round(labels)) | (labels < 0)][:3]}."
        )
    return labels.astype(np.int64)


def _predicted_labels(output: Any, n_points: int) -> np.ndarray:
    output = np.asarray(output)
    if output.ndim == 2 and output.shape[0] == n_points and output.shape[1] >= 2:
        return np.argmax(output, axis=1)
    if output.shape == (n_points,):
        return _as_labels(output, "predict_fn's labels")
    raise ValueError(
        f"predict_fn must map points of shape ({n_points}, 2) to labels of shape ({n_points},) "
        f"or scores of shape ({n_points}, K) with K >= 2, got shape {output.shape}; for a "
        "single score column (binary classifier) return labels, e.g. (p > 0.5).astype(int)."
    )


def _class_colormap(n_classes: int) -> Colormap:
    if n_classes <= 10:
        return ListedColormap(colormaps["tab10"].colors[:n_classes])
    return colormaps["viridis"].resampled(n_classes)


def make_grid(
    images: np.ndarray, nrow: int | None = None, padding: int = 2, pad_value: float = 0.0
) -> np.ndarray:
    """Tile a batch of images into one image, row by row, with a border around every tile.

    Parameters
    ----------
    images : np.ndarray, shape (N, H, W) or (N, C, H, W) with C in {1, 3}
        The images, channels first as in PyTorch.
    nrow : int, optional
        Number of images per row of the grid (as in ``torchvision.utils.make_grid``); by
        default ``ceil(sqrt(N))``, which makes the grid roughly square.
    padding : int
        Width in pixels of the border around and between the tiles.
    pad_value : float
        Value of the border pixels and of the empty tiles after the last image.

    Returns
    -------
    np.ndarray of float64
        Shape ``(rows * (H + padding) + padding, cols * (W + padding) + padding)`` for
        single-channel images, with a trailing axis of 3 for RGB images (channels last, as
        ``imshow`` expects), where ``cols = min(nrow, N)`` and ``rows = ceil(N / cols)``.
        Image ``k`` fills the tile in row ``k // cols`` and column ``k % cols``.
    """
    tiles = _channels_last(images, "images")
    if nrow is None:
        nrow = math.ceil(math.sqrt(len(tiles)))
    if isinstance(nrow, bool) or not isinstance(nrow, int) or nrow < 1:
        raise ValueError(f"nrow (images per row) must be a positive int, got {nrow!r}.")
    if isinstance(padding, bool) or not isinstance(padding, int) or padding < 0:
        raise ValueError(f"padding must be an int >= 0, got {padding!r}.")
    n, h, w = tiles.shape[:3]
    cols = min(nrow, n)
    rows = math.ceil(n / cols)
    shape = (rows * (h + padding) + padding, cols * (w + padding) + padding) + tiles.shape[3:]
    grid = np.full(shape, pad_value, dtype=np.float64)
    for k, tile in enumerate(tiles):
        top, left = _tile_corner(k, cols, h, w, padding)
        grid[top : top + h, left : left + w] = tile
    if grid.ndim == 3 and grid.shape[2] == 1:
        grid = grid[:, :, 0]
    return grid


def _channels_last(images: Any, name: str) -> np.ndarray:
    """``(N, H, W)`` or ``(N, C, H, W)`` images as a float64 ``(N, H, W, C)`` array."""
    array = np.asarray(images, dtype=np.float64)
    if array.ndim == 3:
        array = array[:, None]
    if array.ndim != 4 or array.shape[1] not in (1, 3) or 0 in array.shape:
        raise ValueError(
            f"{name} must have shape (N, H, W) or (N, C, H, W) with C in {{1, 3}} (channels "
            f"first, as in PyTorch), got {np.shape(images)}; for channels-last images "
            "(N, H, W, C) use np.moveaxis(images, -1, 1)."
        )
    return np.moveaxis(array, 1, -1)


def _tile_corner(k: int, cols: int, h: int, w: int, padding: int) -> tuple[int, int]:
    """Pixel row and column of the top-left corner of tile ``k`` in a ``make_grid`` grid."""
    row, col = divmod(k, cols)
    return padding + row * (h + padding), padding + col * (w + padding)


def show_image_grid(
    images: np.ndarray,
    labels: Sequence[Any] | None = None,
    nrow: int | None = None,
    ax: Axes | None = None,
    cmap: str | Colormap | None = None,
    normalize: bool = True,
) -> Axes:
    """Show a batch of images as one grid (see ``make_grid``), optionally labelled.

    Parameters
    ----------
    images : np.ndarray, shape (N, H, W) or (N, C, H, W) with C in {1, 3}
        The images, channels first.
    labels : sequence of length N, optional
        A caption per image (class names or numbers), written in its tile's corner.
    nrow : int, optional
        Images per row; by default ``ceil(sqrt(N))``.
    ax : Axes, optional
        Where to draw; by default a new figure is created.
    cmap : str or Colormap, optional
        Colormap of single-channel images (default ``"gray"``); ignored for RGB images.
    normalize : bool
        Rescale all images together so that their minimum is 0 and their maximum is 1 (a
        constant batch becomes 0.5), which displays e.g. mean-subtracted data. Relative
        brightness between images is kept. Without it, RGB values must already lie in [0, 1]
        and single-channel images are shown over their own range.

    Returns
    -------
    Axes
        Holding one image (the grid) and, with ``labels``, one text per image.
    """
    tiles = _channels_last(images, "images")
    if labels is not None and len(labels) != len(tiles):
        raise ValueError(f"labels has {len(labels)} entries but there are {len(tiles)} images.")
    rgb = tiles.shape[-1] == 3
    if normalize:
        tiles = _rescale(tiles)
    elif rgb and (tiles.min() < 0 or tiles.max() > 1):
        raise ValueError(
            f"RGB images must lie in [0, 1] to be shown with normalize=False, found values in "
            f"[{tiles.min():.3g}, {tiles.max():.3g}]; divide 0..255 images by 255, or pass "
            "normalize=True."
        )
    low, high = (0.0, 1.0) if normalize or rgb else (tiles.min(), tiles.max())
    if nrow is None:
        nrow = math.ceil(math.sqrt(len(tiles)))
    grid = make_grid(np.moveaxis(tiles, -1, 1), nrow=nrow, pad_value=high)
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 6))
    ax.imshow(grid, cmap=None if rgb else (cmap or "gray"), vmin=low, vmax=high)
    if labels is not None:
        for k, label in enumerate(labels):
            top, left = _tile_corner(k, min(nrow, len(tiles)), tiles.shape[1], tiles.shape[2], 2)
            ax.text(
                left, top, str(label), fontsize=8, color="white", va="top", ha="left",
                bbox={"facecolor": "black", "alpha": 0.6, "pad": 1, "linewidth": 0},
            )
    ax.set_axis_off()
    return ax


def _rescale(array: np.ndarray, axis: tuple[int, ...] | None = None) -> np.ndarray:
    """Map ``array`` linearly onto [0, 1] (over ``axis``); constant parts become 0.5."""
    low = array.min(axis=axis, keepdims=True)
    span = array.max(axis=axis, keepdims=True) - low
    safe_span = np.where(span > 0, span, 1.0)
    return np.where(span > 0, (array - low) / safe_span, 0.5)


def plot_filters(
    weights: np.ndarray,
    ax: Axes | None = None,
    nrow: int | None = None,
    channel: int | None = None,
    cmap: str | Colormap = "gray",
) -> Axes:
    """Show the filters of a convolutional layer as a grid of small images.

    Each filter is rescaled on its own to [0, 1] (its smallest weight black, its largest
    white), so filters with small weights stay visible; compare magnitudes from the numbers.

    Parameters
    ----------
    weights : np.ndarray, shape (F, C, KH, KW)
        The layer's weights, as in ``conv_forward`` and ``torch.nn.Conv2d.weight``.
    ax : Axes, optional
        Where to draw; by default a new figure is created.
    nrow : int, optional
        Filters per row; by default ``ceil(sqrt(F))``.
    channel : int, optional
        Show only this input channel of every filter, in grey. Required when ``C`` is not 1 or
        3; filters with ``C == 3`` are otherwise shown in colour (e.g. the first layer of a
        network on RGB images).
    cmap : str or Colormap
        Colormap of single-channel filters.

    Returns
    -------
    Axes
        Holding one image: the grid of ``F`` filters.
    """
    weights = np.asarray(weights, dtype=np.float64)
    if weights.ndim != 4 or 0 in weights.shape:
        raise ValueError(
            "weights must be a convolution weight of shape (F, C, KH, KW), got "
            f"{weights.shape}."
        )
    n_channels = weights.shape[1]
    if channel is not None:
        if isinstance(channel, bool) or not isinstance(channel, int):
            raise ValueError(f"channel must be an int, got {channel!r}.")
        if not -n_channels <= channel < n_channels:
            raise ValueError(f"channel={channel} is out of range for {n_channels} channels.")
        weights = weights[:, [channel]]
    elif n_channels not in (1, 3):
        raise ValueError(
            f"weights have {n_channels} input channels, which cannot be shown as one image; "
            "pass channel=k to show input channel k of every filter."
        )
    filters = _rescale(weights, axis=(1, 2, 3))
    grid = make_grid(filters, nrow=nrow, padding=1, pad_value=1.0)
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 5))
    ax.imshow(grid, cmap=None if grid.ndim == 3 else cmap, vmin=0.0, vmax=1.0)
    ax.set_title(f"{weights.shape[0]} filters of size {weights.shape[2]}x{weights.shape[3]}")
    ax.set_axis_off()
    return ax
