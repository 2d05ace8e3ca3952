"""2-D max and average pooling (like ``torch.nn.functional.max_pool2d`` / ``avg_pool2d``).

Square ``kernel_size x kernel_size`` windows, no padding, and the output size rounds down:
``H_out = floor((H - kernel_size) / stride) + 1`` (likewise for ``W_out``).

Both backward passes loop over the ``kernel_size**2`` offsets inside a window. For one fixed
offset, the output positions read distinct input pixels that form a strided slice of ``x``, so
each offset is a single vectorised update and overlapping windows (``stride < kernel_size``)
add up correctly.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

__all__ = ["max_pool_forward", "max_pool_backward", "avg_pool_forward", "avg_pool_backward"]


def _windows(x: np.ndarray, kernel_size: int, stride: int) -> np.ndarray:
    """Read-only view of all pooling windows, shape ``(N, C, H_out, W_out, K, K)``."""
    if x.ndim != 4:
        raise ValueError(f"pooling: x must have shape (N, C, H, W), got shape {x.shape}")
    if kernel_size < 1 or stride < 1:
        raise ValueError(
            f"pooling: need kernel_size >= 1 and stride >= 1, got {kernel_size=}, {stride=}"
        )
    if min(x.shape[2:]) < kernel_size:
        h_out, w_out = ((size - kernel_size) // stride + 1 for size in x.shape[2:])
        raise ValueError(
            f"pooling: {kernel_size=} does not fit input {x.shape} with {stride=}: "
            f"floor((H - K)/S) + 1 = {h_out} and floor((W - K)/S) + 1 = {w_out}, both must be "
            "at least 1 (pooling adds no padding); use a smaller kernel_size"
        )
    windows = sliding_window_view(x, (kernel_size, kernel_size), axis=(2, 3))
    return windows[:, :, ::stride, ::stride]


def _offsets(kernel_size: int, stride: int, out_shape: tuple[int, ...]) -> Iterator[tuple]:
    """Yield ``(offset, rows, columns)`` for every position inside the window.

    ``offset`` numbers the positions row by row; ``rows`` and ``columns`` slice out the input
    pixels that this position reads across all output positions ``(i, j)``.
    """
    h_out, w_out = out_shape[2:]
    for ki in range(kernel_size):
        for kj in range(kernel_size):
            rows = slice(ki, ki + stride * h_out, stride)
            columns = slice(kj, kj + stride * w_out, stride)
            yield ki * kernel_size + kj, rows, columns


def max_pool_forward(
    x: np.ndarray, kernel_size: int = 2, stride: int = 2
) -> tuple[np.ndarray, tuple]:
    """Max pooling forward pass.

    Parameters
    ----------
    x : np.ndarray, shape (N, C, H, W)
        Input batch.
    kernel_size : int
        Side length of the square pooling window.
    stride : int
        Step between neighbouring windows.

    Returns
    -------
    out : np.ndarray, shape (N, C, H_out, W_out)
        Maximum of every window.
    cache : tuple
        What ``max_pool_backward`` needs: where each maximum was.

    Raises
    ------
    ValueError
        If ``x`` is not 4-D or the window is larger than the input.
    """
    windows = _windows(x, kernel_size, stride)
    flat = windows.reshape(*windows.shape[:4], -1)
    # argmax picks the first maximum in row-major order, the tie rule PyTorch uses as well.
    argmax = flat.argmax(axis=-1)
    out = np.take_along_axis(flat, argmax[..., None], axis=-1)[..., 0]
    return out, (x.shape, argmax, kernel_size, stride)


def max_pool_backward(dout: np.ndarray, cache: tuple) -> np.ndarray:
    """Max pooling backward pass: each window's gradient goes to its maximum only.

    Parameters
    ----------
    dout : np.ndarray, shape (N, C, H_out, W_out)
        Upstream gradient.
    cache : tuple
        From ``max_pool_forward``.

    Returns
    -------
    dx : np.ndarray, shape (N, C, H, W)
    """
    x_shape, argmax, kernel_size, stride = cache
    dx = np.zeros(x_shape)
    for offset, rows, columns in _offsets(kernel_size, stride, dout.shape):
        dx[:, :, rows, columns] += np.where(argmax == offset, dout, 0.0)
    return dx


def avg_pool_forward(
    x: np.ndarray, kernel_size: int = 2, stride: int = 2
) -> tuple[np.ndarray, tuple]:
    """Average pooling forward pass.

    Parameters
    ----------
    x : np.ndarray, shape (N, C, H, W)
        Input batch.
    kernel_size : int
        Side length of the square pooling window.
    stride : int
        Step between neighbouring windows.

    Returns
    -------
    out : np.ndarray, shape (N, C, H_out, W_out)
        Mean of every window.
    cache : tuple
        What ``avg_pool_backward`` needs.

    Raises
    ------
    ValueError
        If ``x`` is not 4-D or the window is larger than the input.
    """
    out = _windows(x, kernel_size, stride).mean(axis=(-2, -1))
    return out, (x.shape, kernel_size, stride)


def avg_pool_backward(dout: np.ndarray, cache: tuple) -> np.ndarray:
    """Average pooling backward pass: each window's gradient is shared equally by its pixels.

    Parameters
    ----------
    dout : np.ndarray, shape (N, C, H_out, W_out)
        Upstream gradient.
    cache : tuple
        From ``avg_pool_forward``.

    Returns
    -------
    dx : np.ndarray, shape (N, C, H, W)
    """
    x_shape, kernel_size, stride = cache
    share = dout / kernel_size**2
    dx = np.zeros(x_shape)
    for _, rows, columns in _offsets(kernel_size, stride, dout.shape):
        dx[:, :, rows, columns] += share
    return dx
