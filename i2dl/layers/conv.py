"""2-D convolution (cross-correlation, like ``torch.nn.functional.conv2d``).

Two implementations of the same layer:

* ``conv_forward_naive`` / ``conv_backward_naive`` spell out the definition with plain loops.
  Read these first; they are slow and only meant for tiny inputs.
* ``conv_forward`` / ``conv_backward`` compute exactly the same numbers with *im2col*: every
  receptive field is copied into one column of a matrix, so the whole convolution becomes a
  single matrix product. This is how CPU libraries implement convolution too.

Shapes: input ``x`` is ``(N, C, H, W)``, weights ``w`` are ``(F, C, KH, KW)``, bias ``b`` is
``(F,)`` and the output is ``(N, F, H_out, W_out)`` with
``H_out = floor((H + 2 * padding - KH) / stride) + 1`` (likewise for ``W_out``).
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

__all__ = ["conv_forward_naive", "conv_backward_naive", "conv_forward", "conv_backward"]


def _output_shape(
    x: np.ndarray, w: np.ndarray, b: np.ndarray, stride: int, padding: int
) -> tuple[int, int]:
    """Validate the arguments of a convolution and return ``(H_out, W_out)``."""
    if x.ndim != 4:
        raise ValueError(f"conv: x must have shape (N, C, H, W), got shape {x.shape}")
    if w.ndim != 4:
        raise ValueError(f"conv: w must have shape (F, C, KH, KW), got shape {w.shape}")
    if x.shape[1] != w.shape[1]:
        raise ValueError(
            f"conv: x has {x.shape[1]} channels (shape {x.shape}) but w expects {w.shape[1]} "
            f"(shape {w.shape}); the second axes of x and w must match"
        )
    if b.shape != (w.shape[0],):
        raise ValueError(
            f"conv: b must have shape ({w.shape[0]},) to match w {w.shape}, got {b.shape}"
        )
    if stride < 1 or padding < 0:
        raise ValueError(f"conv: need stride >= 1 and padding >= 0, got {stride=} and {padding=}")
    (height, width), (kh, kw) = x.shape[2:], w.shape[2:]
    h_out = (height + 2 * padding - kh) // stride + 1
    w_out = (width + 2 * padding - kw) // stride + 1
    if h_out < 1 or w_out < 1:
        raise ValueError(
            f"conv: a {kh}x{kw} kernel does not fit input {x.shape} with {stride=}, {padding=}: "
            f"floor((H + 2P - KH)/S) + 1 = {h_out} and floor((W + 2P - KW)/S) + 1 = {w_out}, "
            "both must be at least 1; use a smaller kernel or more padding"
        )
    return h_out, w_out


def _pad(x: np.ndarray, padding: int) -> np.ndarray:
    """Zero-pad the two spatial axes of ``x`` (always a new array, never a view of ``x``)."""
    return np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))


def conv_forward_naive(
    x: np.ndarray, w: np.ndarray, b: np.ndarray, stride: int = 1, padding: int = 0
) -> tuple[np.ndarray, tuple]:
    """Convolution forward pass written as loops over every output element.

    Parameters
    ----------
    x : np.ndarray, shape (N, C, H, W)
        Input batch.
    w : np.ndarray, shape (F, C, KH, KW)
        One ``(C, KH, KW)`` filter per output channel.
    b : np.ndarray, shape (F,)
        One bias per output channel.
    stride : int
        Step between neighbouring receptive fields, at least 1.
    padding : int
        Number of zeros added on each side of the two spatial axes.

    Returns
    -------
    out : np.ndarray, shape (N, F, H_out, W_out)
        ``out[n, f, i, j] = sum(x_pad[n, :, i*S : i*S + KH, j*S : j*S + KW] * w[f]) + b[f]``.
    cache : tuple
        What ``conv_backward_naive`` needs.

    Raises
    ------
    ValueError
        If the shapes do not fit together or the kernel is larger than the padded input.
    """
    h_out, w_out = _output_shape(x, w, b, stride, padding)
    n_samples, n_filters = x.shape[0], w.shape[0]
    kh, kw = w.shape[2:]
    x_pad = _pad(x, padding)
    out = np.zeros((n_samples, n_filters, h_out, w_out))
    for n in range(n_samples):
        for f in range(n_filters):
            for i in range(h_out):
                for j in range(w_out):
                    top, left = i * stride, j * stride
                    field = x_pad[n, :, top : top + kh, left : left + kw]
                    out[n, f, i, j] = np.sum(field * w[f]) + b[f]
    return out, (x, w, stride, padding)


def conv_backward_naive(
    dout: np.ndarray, cache: tuple
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Convolution backward pass with the same loops as the forward pass.

    Every output element ``out[n, f, i, j]`` was a weighted sum of one receptive field, so its
    upstream gradient flows back to exactly that field (through ``w[f]``) and to ``w[f]``
    (through the field).

    Parameters
    ----------
    dout : np.ndarray, shape (N, F, H_out, W_out)
        Upstream gradient.
    cache : tuple
        From ``conv_forward_naive``.

    Returns
    -------
    dx : np.ndarray, shape (N, C, H, W)
    dw : np.ndarray, shape (F, C, KH, KW)
    db : np.ndarray, shape (F,)
    """
    x, w, stride, padding = cache
    n_samples, n_filters, h_out, w_out = dout.shape
    kh, kw = w.shape[2:]
    x_pad = _pad(x, padding)
    dx_pad = np.zeros_like(x_pad, dtype=np.float64)
    dw = np.zeros_like(w, dtype=np.float64)
    for n in range(n_samples):
        for f in range(n_filters):
            for i in range(h_out):
                for j in range(w_out):
                    top, left = i * stride, j * stride
                    field = x_pad[n, :, top : top + kh, left : left + kw]
                    dw[f] += dout[n, f, i, j] * field
                    dx_pad[n, :, top : top + kh, left : left + kw] += dout[n, f, i, j] * w[f]
    height, width = x.shape[2:]
    dx = dx_pad[:, :, padding : padding + height, padding : padding + width].copy()
    db = dout.sum(axis=(0, 2, 3))
    return dx, dw, db


def conv_forward(
    x: np.ndarray, w: np.ndarray, b: np.ndarray, stride: int = 1, padding: int = 0
) -> tuple[np.ndarray, tuple]:
    """Fast convolution forward pass (im2col followed by one matrix product).

    Same arguments, result and errors as ``conv_forward_naive``; the cache is different, so pair
    it with ``conv_backward``.

    ``cols`` has one row per filter entry ``(c, ki, kj)`` and one column per output position
    ``(n, i, j)``; the column holds that position's receptive field. Then
    ``w.reshape(F, C*KH*KW) @ cols`` evaluates every dot product of the naive loops at once.

    Parameters
    ----------
    x : np.ndarray, shape (N, C, H, W)
    w : np.ndarray, shape (F, C, KH, KW)
    b : np.ndarray, shape (F,)
    stride : int
    padding : int

    Returns
    -------
    out : np.ndarray, shape (N, F, H_out, W_out)
    cache : tuple
        What ``conv_backward`` needs (including ``cols``, of shape
        ``(C*KH*KW, N*H_out*W_out)``).
    """
    h_out, w_out = _output_shape(x, w, b, stride, padding)
    n_filters, channels, kh, kw = w.shape
    # A read-only view (N, C, H_out, W_out, KH, KW) of all receptive fields: no copy yet.
    fields = sliding_window_view(_pad(x, padding), (kh, kw), axis=(2, 3))[:, :, ::stride, ::stride]
    # The one real copy. Putting (C, KH, KW) first matches w.reshape(F, -1); keeping (H_out,
    # W_out) last keeps the copy's inner loop running along rows of x.
    cols = fields.transpose(1, 4, 5, 0, 2, 3).reshape(channels * kh * kw, -1)
    out = w.reshape(n_filters, -1) @ cols
    out += b[:, None]
    out = out.reshape(n_filters, x.shape[0], h_out, w_out).transpose(1, 0, 2, 3)
    return np.ascontiguousarray(out), (x.shape, w, cols, stride, padding)


def conv_backward(dout: np.ndarray, cache: tuple) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Fast convolution backward pass (two matrix products and col2im).

    With ``out_mat = w_mat @ cols`` the matrix-product rule gives ``dw_mat = dout_mat @ cols.T``
    and ``dcols = w_mat.T @ dout_mat``. *col2im* then sends every entry of ``dcols`` back to the
    input pixel it was copied from, adding up where receptive fields overlap. It loops over the
    ``KH * KW`` kernel offsets only: for a fixed offset ``(ki, kj)`` the output positions touch
    distinct pixels, which form one strided slice of the input.

    Parameters
    ----------
    dout : np.ndarray, shape (N, F, H_out, W_out)
        Upstream gradient.
    cache : tuple
        From ``conv_forward``.

    Returns
    -------
    dx : np.ndarray, shape (N, C, H, W)
    dw : np.ndarray, shape (F, C, KH, KW)
    db : np.ndarray, shape (F,)
    """
    (n_samples, channels, height, width), w, cols, stride, padding = cache
    n_filters, _, kh, kw = w.shape
    h_out, w_out = dout.shape[2:]
    dout_mat = dout.transpose(1, 0, 2, 3).reshape(n_filters, -1)
    db = dout_mat.sum(axis=1)
    dw = (dout_mat @ cols.T).reshape(w.shape)
    dcols = (w.reshape(n_filters, -1).T @ dout_mat).reshape(
        channels, kh, kw, n_samples, h_out, w_out
    )
    # Channel-first, like dcols, so that every slice below is added without a transpose.
    dx_pad = np.zeros((channels, n_samples, height + 2 * padding, width + 2 * padding))
    for ki in range(kh):
        for kj in range(kw):
            rows = slice(ki, ki + stride * h_out, stride)
            columns = slice(kj, kj + stride * w_out, stride)
            dx_pad[:, :, rows, columns] += dcols[:, ki, kj]
    dx = dx_pad[:, :, padding : padding + height, padding : padding + width].transpose(1, 0, 2, 3)
    return np.ascontiguousarray(dx), dw, db
