"""Cost arithmetic, upsampling operators and the two interactive demos of lecture 10.

Counting
    ``conv_cost`` and ``separable_cost`` give the parameters and multiply-accumulates (MACs) of a
    stride-1 convolution with "same" padding; ``receptive_field`` applies
    ``r_k = r_{k-1} + (product of earlier strides) (f_k - 1)``; ``path_counts`` counts the paths
    from each input pixel to one output pixel of a stack of convolutions.

Upsampling (single-channel images, numpy)
    ``upsample_nearest`` and ``upsample_bilinear`` match ``torch.nn.functional.interpolate``
    (``align_corners=False``); ``zero_insert`` places each pixel at the top-left corner of its
    block; ``max_unpool`` places each pixel where max pooling found it (the "switches");
    ``conv_transpose2d_single`` is ``torch.nn.functional.conv_transpose2d`` for one channel.

Demos
    ``block_cost_demo()`` compares what stacks of standard, grouped and depthwise-separable
    convolutions cost; ``upsampling_demo()`` undoes a max pooling with each upsampling method.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.figure import Figure

from i2dl.layers.pooling import max_pool_backward, max_pool_forward
from i2dl.viz.interactive import InteractiveFigure, dropdown, int_slider

__all__ = [
    "conv_cost",
    "separable_cost",
    "receptive_field",
    "path_counts",
    "upsample_nearest",
    "upsample_bilinear",
    "zero_insert",
    "max_unpool",
    "conv_transpose2d_single",
    "block_cost_demo",
    "upsampling_demo",
]


def _pair(kernel_size: int | tuple[int, int]) -> tuple[int, int]:
    if isinstance(kernel_size, int):
        return kernel_size, kernel_size
    height, width = kernel_size
    return int(height), int(width)


def conv_cost(
    in_channels: int, out_channels: int, kernel_size: int | tuple[int, int],
    height: int, width: int, groups: int = 1, bias: bool = False,
) -> tuple[int, int]:
    """Parameters and MACs of one stride-1 convolution with "same" padding.

    Each of the ``groups`` groups maps ``in_channels / groups`` input channels to
    ``out_channels / groups`` output channels, so every output value is a sum of
    ``(in_channels / groups) * KH * KW`` products.

    Parameters
    ----------
    in_channels, out_channels : int
        Channels of the input and the output; both divisible by ``groups``.
    kernel_size : int or (int, int)
        ``K`` for a square ``K x K`` kernel, or ``(KH, KW)``.
    height, width : int
        Size of the output feature map (equal to the input's for stride 1, "same" padding).
    groups : int
        Number of groups (``in_channels`` for a depthwise convolution).
    bias : bool
        Count one bias per output channel (and one addition per output value).

    Returns
    -------
    (params, macs) : tuple of int
        ``params = (in_channels / groups) * out_channels * KH * KW (+ out_channels)`` and
        ``macs = (params without the biases) * height * width``: one multiply-accumulate per
        weight and output pixel (adding the bias is not counted, as in PyTorch's
        ``torch.utils.flop_counter``, which reports ``2 * macs`` FLOPs).
    """
    if in_channels % groups or out_channels % groups:
        raise ValueError(
            f"groups={groups} must divide both in_channels={in_channels} and "
            f"out_channels={out_channels}."
        )
    kh, kw = _pair(kernel_size)
    weights = (in_channels // groups) * out_channels * kh * kw
    extra = out_channels if bias else 0
    return weights + extra, weights * height * width


def separable_cost(
    in_channels: int, out_channels: int, kernel_size: int | tuple[int, int],
    height: int, width: int,
) -> tuple[int, int]:
    """Parameters and MACs of a depthwise ``K x K`` convolution followed by a 1x1 convolution.

    The depthwise part filters every input channel on its own (``groups = in_channels``); the
    pointwise part mixes the channels. No biases. Compared with one standard convolution the
    cost shrinks by the factor ``1 / out_channels + 1 / (KH * KW)``.

    Returns
    -------
    (params, macs) : tuple of int
    """
    depthwise = conv_cost(in_channels, in_channels, kernel_size, height, width, in_channels)
    pointwise = conv_cost(in_channels, out_channels, 1, height, width)
    return depthwise[0] + pointwise[0], depthwise[1] + pointwise[1]


def receptive_field(kernel_sizes: Sequence[int], strides: Sequence[int] | None = None) -> int:
    """Side of the receptive field of one output pixel of a stack of layers.

    ``r_0 = 1`` and ``r_k = r_{k-1} + (s_1 ... s_{k-1}) (f_k - 1)`` for layers with kernel
    sizes ``f_k`` and strides ``s_k`` (pooling layers count like convolutions).

    Parameters
    ----------
    kernel_sizes : sequence of int
        ``f_1, ..., f_L``, first layer first.
    strides : sequence of int, optional
        ``s_1, ..., s_L``; all 1 by default.

    Returns
    -------
    int
        The side ``r_L`` of the square of input pixels that one output pixel depends on.
    """
    strides = [1] * len(kernel_sizes) if strides is None else list(strides)
    if len(strides) != len(kernel_sizes):
        raise ValueError(
            f"got {len(kernel_sizes)} kernel sizes but {len(strides)} strides; give one each."
        )
    field, jump = 1, 1
    for kernel, stride in zip(kernel_sizes, strides, strict=True):
        field += jump * (kernel - 1)
        jump *= stride
    return field


def path_counts(depth: int, kernel_size: int) -> np.ndarray:
    """Number of paths from each input pixel to one output pixel of ``depth`` stacked convs.

    Each layer is a stride-1 ``kernel_size x kernel_size`` convolution; a path picks one
    kernel tap per layer. The counts are what the gradient of that output pixel with respect
    to the input equals when every weight is 1: pixels near the centre of the receptive field
    are reached by many more paths than pixels at its border.

    Returns
    -------
    np.ndarray of int64, shape (R, R)
        ``R = depth * (kernel_size - 1) + 1``; the entries sum to ``kernel_size ** (2 * depth)``.
    """
    if depth < 1 or kernel_size < 1:
        raise ValueError(f"need depth >= 1 and kernel_size >= 1, got {depth} and {kernel_size}.")
    line = np.ones(1, dtype=np.int64)
    for _ in range(depth):
        line = np.convolve(line, np.ones(kernel_size, dtype=np.int64))
    return np.outer(line, line)


def _check_image(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if x.ndim < 2:
        raise ValueError(f"expected an image of shape (..., H, W), got shape {x.shape}.")
    return x


def upsample_nearest(x: np.ndarray, factor: int) -> np.ndarray:
    """Nearest-neighbour upsampling: every pixel becomes a ``factor x factor`` block.

    Parameters
    ----------
    x : np.ndarray, shape (..., H, W)
    factor : int

    Returns
    -------
    np.ndarray, shape (..., factor * H, factor * W)
    """
    x = _check_image(x)
    return np.repeat(np.repeat(x, factor, axis=-2), factor, axis=-1)


def _linear_weights(size: int, factor: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    # Output pixel j has its centre at source coordinate (j + 0.5) / factor - 0.5; coordinates
    # beyond the first or last pixel centre are clamped to it (PyTorch, align_corners=False).
    source = np.clip((np.arange(size * factor) + 0.5) / factor - 0.5, 0.0, size - 1)
    low = np.floor(source).astype(np.int64)
    high = np.minimum(low + 1, size - 1)
    return low, high, source - low


def upsample_bilinear(x: np.ndarray, factor: int) -> np.ndarray:
    """Bilinear upsampling, equal to ``F.interpolate(..., mode="bilinear", align_corners=False)``.

    Linear interpolation along the rows, then along the columns, between the two nearest
    pixel centres of the input.

    Parameters
    ----------
    x : np.ndarray, shape (..., H, W)
    factor : int

    Returns
    -------
    np.ndarray, shape (..., factor * H, factor * W)
    """
    x = _check_image(x)
    low, high, t = _linear_weights(x.shape[-2], factor)
    rows = x[..., low, :] * (1 - t)[:, None] + x[..., high, :] * t[:, None]
    low, high, t = _linear_weights(x.shape[-1], factor)
    return rows[..., low] * (1 - t) + rows[..., high] * t


def zero_insert(x: np.ndarray, factor: int) -> np.ndarray:
    """Bed-of-nails upsampling: pixel ``(i, j)`` goes to ``(factor i, factor j)``, zeros elsewhere.

    Returns
    -------
    np.ndarray, shape (..., factor * H, factor * W)
    """
    x = _check_image(x)
    out = np.zeros((*x.shape[:-2], factor * x.shape[-2], factor * x.shape[-1]))
    out[..., ::factor, ::factor] = x
    return out


def max_unpool(pooled: np.ndarray, cache: tuple) -> np.ndarray:
    """Max unpooling: each value goes back to where ``max_pool_forward`` found its maximum.

    The positions (the "switches") are in the pooling cache; every other pixel is zero. This
    is exactly the routing of max pooling's backward pass, applied to the pooled values.

    Parameters
    ----------
    pooled : np.ndarray, shape (N, C, H_out, W_out)
    cache : tuple
        From ``i2dl.layers.max_pool_forward``.

    Returns
    -------
    np.ndarray, shape (N, C, H, W), the shape of the pooling's input.
    """
    return max_pool_backward(np.asarray(pooled, dtype=np.float64), cache)


def conv_transpose2d_single(x: np.ndarray, kernel: np.ndarray, stride: int) -> np.ndarray:
    """Transposed convolution of one channel: every pixel adds ``pixel * kernel`` to the output.

    Pixel ``(i, j)`` paints the kernel with its top-left corner at ``(stride i, stride j)``;
    where the painted kernels overlap, the contributions add up. Equals
    ``F.conv_transpose2d(x[None, None], kernel[None, None], stride=stride)[0, 0]``.

    Parameters
    ----------
    x : np.ndarray, shape (H, W)
    kernel : np.ndarray, shape (KH, KW)
    stride : int

    Returns
    -------
    np.ndarray, shape ((H - 1) * stride + KH, (W - 1) * stride + KW)
    """
    x = _check_image(x)
    kernel = np.asarray(kernel, dtype=np.float64)
    height, width = x.shape
    kh, kw = kernel.shape
    out = np.zeros(((height - 1) * stride + kh, (width - 1) * stride + kw))
    for ki in range(kh):
        for kj in range(kw):
            out[ki : ki + stride * (height - 1) + 1 : stride,
                kj : kj + stride * (width - 1) + 1 : stride] += kernel[ki, kj] * x
    return out


# --- block_cost_demo ----------------------------------------------------------------------------

_CHANNELS = ["8", "16", "32", "64", "128", "256", "512"]
_GROUPS = ["1", "2", "4", "8", "16", "C (depthwise)"]
_MAX_FIELD = 37  # receptive field of 6 layers of 7x7: the canvas of the left panel


def _stack_costs(
    kernel_size: int, depth: int, channels: int, groups: int, resolution: int
) -> dict[str, tuple[int, int]]:
    """(params, MACs) of the four ways to cover the same receptive field, by label."""
    field = receptive_field([kernel_size] * depth)
    one = conv_cost(channels, channels, kernel_size, resolution, resolution)
    grouped = conv_cost(channels, channels, kernel_size, resolution, resolution, groups)
    separable = separable_cost(channels, channels, kernel_size, resolution, resolution)
    big = conv_cost(channels, channels, field, resolution, resolution)
    return {
        f"one {field}x{field} conv": big,
        f"{depth} x ({kernel_size}x{kernel_size} conv)": (depth * one[0], depth * one[1]),
        f"{depth} x ({kernel_size}x{kernel_size} conv, {groups} groups)":
            (depth * grouped[0], depth * grouped[1]),
        f"{depth} x ({kernel_size}x{kernel_size} depthwise + 1x1)":
            (depth * separable[0], depth * separable[1]),
    }


def block_cost_demo() -> InteractiveFigure:
    """What a stack of convolutions costs, and how much of the input it sees.

    A stack of ``depth`` stride-1 ``k x k`` convolutions with ``C`` channels in and out, on
    ``H x H`` feature maps, no biases. Left: its receptive field on the input, shaded by the
    number of paths from each input pixel to the centre output pixel (``path_counts``).
    Right: parameters (bars) and MACs (labels) of one big convolution with the same receptive
    field, of the stack of standard convolutions, of the stack with grouped convolutions, and
    of the stack with depthwise-separable convolutions.

    Controls: ``kernel_size`` (1 to 7, odd), ``depth`` (1 to 6), ``channels`` (8 to 512),
    ``groups`` (1 to 16, or depthwise), ``resolution`` (8 to 224).
    """

    def draw(
        fig: Figure, kernel_size: int, depth: int, channels: str, groups: str, resolution: int
    ) -> None:
        n_channels = int(channels)
        n_groups = n_channels if groups.startswith("C") else min(int(groups), n_channels)
        costs = _stack_costs(kernel_size, depth, n_channels, n_groups, resolution)
        field = receptive_field([kernel_size] * depth)
        ax_field, ax_cost = fig.subplots(1, 2, width_ratios=[1, 2.2])

        canvas = np.zeros((_MAX_FIELD, _MAX_FIELD))
        start = (_MAX_FIELD - field) // 2
        counts = path_counts(depth, kernel_size)
        canvas[start : start + field, start : start + field] = counts / counts.max()
        ax_field.imshow(canvas, cmap="magma", vmin=0, vmax=1)
        ax_field.set_xticks([])
        ax_field.set_yticks([])
        ax_field.set_title(
            f"receptive field {field} x {field}\n(shade: paths to the centre output)",
            fontsize=10,
        )

        labels = list(costs)
        params = np.array([costs[label][0] for label in labels], dtype=np.float64)
        colors = ["0.6", "C0", "C2", "C1"]
        ax_cost.barh(labels, params, color=colors)
        ax_cost.set_xscale("log")
        ax_cost.set_xlim(params.min() / 3, params.max() * 60)
        ax_cost.invert_yaxis()
        for row, label in enumerate(labels):
            n_params, macs = costs[label]
            ax_cost.text(
                n_params * 1.15, row, f"{n_params:,} params, {macs / 1e6:,.1f} M MACs",
                va="center", fontsize=9,
            )
        ratio = 1 / n_channels + 1 / kernel_size**2
        ax_cost.set_xlabel("parameters (log scale); MACs = parameters x H x W")
        ax_cost.set_title(
            f"C = {n_channels} channels, {resolution} x {resolution} pixels; separable / "
            f"standard = 1/C + 1/k$^2$ = {ratio:.3f}",
            fontsize=10,
        )

    controls = {
        "kernel_size": int_slider("kernel size k", 3, 1, 7, step=2),
        "depth": int_slider("layers in the stack", 2, 1, 6),
        "channels": dropdown("channels C", _CHANNELS, value="64"),
        "groups": dropdown("groups", _GROUPS, value="4"),
        "resolution": int_slider("resolution H = W", 56, 8, 224, step=8),
    }
    return InteractiveFigure(draw, controls, figsize=(11.0, 3.8))


# --- upsampling_demo ----------------------------------------------------------------------------

_METHODS = [
    "nearest",
    "bilinear",
    "max-unpooling (switches)",
    "zero insertion",
    "transposed conv, tent kernel",
    "transposed conv, box kernel",
]
# Kernels of a stride-2 transposed convolution: the tent interpolates linearly (lecture 9's
# [0.5, 1, 0.5]); the box is scaled so that the mean is kept, but its 3 taps overlap unevenly
# at stride 2 (2 contributions on one pixel, 1 on the next), which leaves a checkerboard.
_TENT = np.outer([0.5, 1.0, 0.5], [0.5, 1.0, 0.5])
_BOX = np.full((3, 3), 4.0 / 9.0)


def _default_image() -> np.ndarray:
    """A 64 x 64 grey test image: a bright cross on a dark ground with a thin diagonal line."""
    rows, cols = np.mgrid[:64, :64]
    image = np.full((64, 64), 0.15)
    image[(np.abs(rows - 30) < 6) & (np.abs(cols - 30) < 20)] = 0.9
    image[(np.abs(cols - 30) < 6) & (np.abs(rows - 30) < 20)] = 0.9
    image[np.abs(rows + cols - 100) < 1.5] = 0.6
    return image


def _upsample(low: np.ndarray, cache: tuple, method: str, factor: int) -> np.ndarray:
    """Upsample the pooled image ``low`` (H', W') by ``factor`` with ``method``."""
    if method == "nearest":
        return upsample_nearest(low, factor)
    if method == "bilinear":
        return upsample_bilinear(low, factor)
    if method.startswith("max-unpooling"):
        return max_unpool(low[None, None], cache)[0, 0]
    if method == "zero insertion":
        return zero_insert(low, factor)
    kernel = _TENT if "tent" in method else _BOX
    out = low
    for _ in range(int(np.log2(factor))):
        size = out.shape
        # (H - 1) * 2 + 3 = 2H + 1 rows: drop the first so that pixel i lands on row 2i.
        out = conv_transpose2d_single(out, kernel, 2)[1 : 2 * size[0] + 1, 1 : 2 * size[1] + 1]
    return out


def upsampling_demo(image: np.ndarray | None = None) -> InteractiveFigure:
    """Downsample an image by max pooling, then upsample it back with a chosen method.

    Controls: ``method`` (nearest, bilinear, max-unpooling with the pooling's switches,
    zero insertion, stride-2 transposed convolutions with a tent or a box kernel) and
    ``factor`` (2 or 4; the transposed convolutions are applied once per factor 2). Shows the
    image, its max-pooled version, the upsampled result and its absolute difference from the
    image, with the mean absolute error in the title.

    Parameters
    ----------
    image : np.ndarray, shape (H, W), optional
        A grey image with H and W divisible by 4. By default a 64 x 64 test image.
    """
    image = _default_image() if image is None else np.asarray(image, dtype=np.float64)
    if image.ndim != 2 or image.shape[0] % 4 or image.shape[1] % 4:
        raise ValueError(
            f"image must have shape (H, W) with H and W divisible by 4, got {image.shape}."
        )

    def draw(fig: Figure, method: str, factor: str) -> None:
        step = int(factor)
        pooled, cache = max_pool_forward(image[None, None], step, step)
        low = pooled[0, 0]
        up = _upsample(low, cache, method, step)
        error = np.abs(up - image)
        panels = [
            (image, "image"),
            (low, f"max-pooled {step}x{step}: {low.shape[0]} x {low.shape[1]}"),
            (up, f"upsampled: {method}"),
            (error, f"|difference|, mean {error.mean():.3f}"),
        ]
        for ax, (picture, title) in zip(fig.subplots(1, 4), panels, strict=True):
            ax.imshow(picture, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
            ax.set_title(title, fontsize=9)
            ax.set_xticks([])
            ax.set_yticks([])

    controls = {
        "method": dropdown("method", _METHODS),
        "factor": dropdown("factor", ["2", "4"]),
    }
    return InteractiveFigure(draw, controls, figsize=(11.0, 3.2))
