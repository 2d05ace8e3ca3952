"""Interactive demo for lecture 9 (convolutional networks): where the windows of a convolution go.

``conv_geometry_demo`` shows a 1-D input with its zero padding, every window a convolution with
kernel size F and stride S places on it, and how many windows read each input position. It makes
the output-size formula ``floor((N + 2P - F) / S) + 1`` visible: the floor is the pixels at the
end that no window reaches, and the uneven coverage for ``S < F`` not divisible into ``F`` is the
pattern a transposed convolution with the same geometry produces (checkerboard artefacts).
"""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from i2dl.viz.interactive import InteractiveFigure, int_slider

__all__ = ["conv_geometry_demo"]


def _window_starts(length: int, kernel_size: int, stride: int = 1, padding: int = 0) -> np.ndarray:
    """First position of every window of a 1-D convolution, in input coordinates.

    The input has positions ``0 .. length - 1``; padding adds positions ``-padding .. -1`` and
    ``length .. length + padding - 1``. Window ``i`` covers ``start[i] .. start[i] +
    kernel_size - 1`` with ``start[i] = i * stride - padding``, for every ``i`` whose window
    fits inside the padded input.

    Parameters
    ----------
    length : int
        Input length N (at least 1).
    kernel_size : int
        Window length F (at least 1).
    stride : int
        Step S between neighbouring windows (at least 1).
    padding : int
        Zeros P added at each end (at least 0).

    Returns
    -------
    np.ndarray of int, shape (n_windows,)
        Empty when the kernel is longer than the padded input.
    """
    for name, value, low in (("length", length, 1), ("kernel_size", kernel_size, 1),
                             ("stride", stride, 1), ("padding", padding, 0)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
            raise ValueError(f"{name} must be an int >= {low}, got {value!r}.")
    last = length + 2 * padding - kernel_size  # largest start in padded coordinates
    if last < 0:
        return np.zeros(0, dtype=int)
    return np.arange(0, last + 1, stride) - padding


def _coverage(length: int, kernel_size: int, starts: np.ndarray, padding: int) -> np.ndarray:
    """How many windows read each position of the padded input, shape (length + 2 padding,)."""
    counts = np.zeros(length + 2 * padding, dtype=int)
    for start in starts:
        counts[start + padding : start + padding + kernel_size] += 1
    return counts


def conv_geometry_demo(
    length: int = 7, kernel_size: int = 3, stride: int = 2, padding: int = 0
) -> InteractiveFigure:
    """The windows of a 1-D convolution on its (padded) input, and how often each pixel is read.

    Controls: ``length`` N (3 to 16), ``kernel_size`` F (1 to 7), ``stride`` S (1 to 4) and
    ``padding`` P (0 to 3). Top: the input positions (padding in grey, positions no window
    reaches in red) and one bar per output below them, spanning the inputs it reads. The title
    evaluates ``floor((N + 2P - F) / S) + 1``. Bottom: the number of windows that read each
    position, which is what a transposed convolution with an all-ones kernel of the same
    geometry returns for an all-ones input.

    Parameters
    ----------
    length, kernel_size, stride, padding : int
        Initial values of the controls; the default is the worked example of lecture 9
        (N = 7, F = 3, S = 2, P = 0).
    """

    def draw(fig: Figure, length: int, kernel_size: int, stride: int, padding: int) -> None:
        starts = _window_starts(length, kernel_size, stride, padding)
        coverage = _coverage(length, kernel_size, starts, padding)
        positions = np.arange(-padding, length + padding)
        ax_windows, ax_coverage = fig.subplots(
            2, 1, sharex=True, height_ratios=[2.2, 1]
        )
        for pos, count in zip(positions, coverage, strict=True):
            is_pad = pos < 0 or pos >= length
            face = "0.85" if is_pad else ("#f4a6a6" if count == 0 else "white")
            ax_windows.add_patch(Rectangle((pos - 0.5, -0.5), 1, 1, facecolor=face,
                                           edgecolor="k", lw=0.8))
            ax_windows.text(pos, 0, "0" if is_pad else f"x{pos}", ha="center", va="center",
                            fontsize=8)
        for i, start in enumerate(starts):
            row = -1.3 - 0.8 * i
            ax_windows.add_patch(Rectangle(
                (start - 0.45, row - 0.3), kernel_size - 0.1, 0.6, facecolor=f"C{i % 10}",
                alpha=0.6, edgecolor="k", lw=0.6, label=f"window {i}",
            ))
            ax_windows.text(start + kernel_size / 2 - 0.5, row, f"y{i}", ha="center",
                            va="center", fontsize=8)
        n_out = len(starts)
        ax_windows.set_ylim(-1.3 - 0.8 * max(n_out, 1), 0.8)
        ax_windows.set_yticks([])
        if n_out == 0:
            title = (f"N = {length}, F = {kernel_size}, P = {padding}: the kernel is longer "
                     f"than the padded input ({length + 2 * padding}), no output")
        else:
            title = (f"N = {length}, F = {kernel_size}, S = {stride}, P = {padding}:  "
                     f"floor(({length} + 2*{padding} - {kernel_size}) / {stride}) + 1 = {n_out} "
                     "outputs")
            left_over = (length + 2 * padding - kernel_size) % stride
            if left_over:
                title += f"\nthe floor drops the last {left_over} position(s): no window fits there"
            unused = int(np.sum(coverage[padding : padding + length] == 0))
            if unused:
                title += f"; {unused} input pixel(s) never read (red)"
        ax_windows.set_title(title, fontsize=10)
        ax_coverage.bar(positions, coverage, width=0.8, color="C0")
        ax_coverage.set_xlim(-3.6, 19.6)
        ax_coverage.set_ylim(0, max(int(coverage.max()), 1) + 0.5)
        ax_coverage.set_xticks(positions)
        ax_coverage.set_xlabel("input position (negative and >= N: padding)")
        ax_coverage.set_ylabel("windows\nreading it")

    controls = {
        "length": int_slider("input length N", length, 3, 16),
        "kernel_size": int_slider("kernel size F", kernel_size, 1, 7),
        "stride": int_slider("stride S", stride, 1, 4),
        "padding": int_slider("padding P", padding, 0, 3),
    }
    return InteractiveFigure(draw, controls, figsize=(10.0, 5.0))
