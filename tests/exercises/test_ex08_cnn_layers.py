"""ex08_cnn_layers: partial work, other correct styles and classic bugs earn exact scores.

One autograde run grades every student below through the real command line. Each student is the
released notebook with some answer cells filled in: with the solution, with code in another
correct style (which must earn full marks), or with a classic bug (which must lose exactly the
tests that grade the broken function). Scores are checked per test cell, not only in total.

The written answer (explain_downsampling, 5 points) is graded by hand: autograding gives it
nothing, whatever the student wrote, so a perfect hand-in autogrades to 95 of 100.
"""

from __future__ import annotations

import pytest

from grader.sample import student_version
from tests.exercises.conftest import REPO, grade_hand_ins, lost, sub, total

pytestmark = pytest.mark.ex08

EX = "ex08_cnn_layers"
POINTS = {
    "test_output_size": 5,
    "test_conv_forward_naive": 10,
    "test_conv_backward_naive": 10,
    "test_conv_forward": 10,
    "test_conv_backward": 10,
    "test_max_pool": 10,
    "test_avg_pool": 10,
    "test_conv_transpose": 10,
    "test_receptive_field": 5,
    "test_tiny_cnn": 15,
}
BY_HAND = {"explain_downsampling": 5}
AUTOGRADED = sum(POINTS.values())

# --- every answer cell returning zeros (or an empty answer) of the right shapes --------------

ZERO_STUBS = {
    "output_size": """
def conv_output_size(n, f, stride=1, padding=0):
    return 0
""",
    "conv_naive_forward": """
def conv_forward_naive(x, w, b, stride=1, padding=0):
    h_out = (x.shape[2] + 2 * padding - w.shape[2]) // stride + 1
    w_out = (x.shape[3] + 2 * padding - w.shape[3]) // stride + 1
    return np.zeros((x.shape[0], w.shape[0], h_out, w_out)), (x, w, b)
""",
    "conv_naive_backward": """
def conv_backward_naive(dout, cache):
    x, w, b = cache
    return np.zeros_like(x), np.zeros_like(w), np.zeros_like(b)
""",
    "conv_fast_forward": """
def conv_forward(x, w, b, stride=1, padding=0):
    h_out = (x.shape[2] + 2 * padding - w.shape[2]) // stride + 1
    w_out = (x.shape[3] + 2 * padding - w.shape[3]) // stride + 1
    return np.zeros((x.shape[0], w.shape[0], h_out, w_out)), (x, w, b)
""",
    "conv_fast_backward": """
def conv_backward(dout, cache):
    x, w, b = cache
    return np.zeros_like(x), np.zeros_like(w), np.zeros_like(b)
""",
    "max_pool": """
def max_pool_forward(x, kernel_size=2, stride=2):
    h_out = (x.shape[2] - kernel_size) // stride + 1
    w_out = (x.shape[3] - kernel_size) // stride + 1
    return np.zeros((*x.shape[:2], h_out, w_out)), x.shape


def max_pool_backward(dout, cache):
    return np.zeros(cache)
""",
    "avg_pool": """
def avg_pool_forward(x, kernel_size=2, stride=2):
    h_out = (x.shape[2] - kernel_size) // stride + 1
    w_out = (x.shape[3] - kernel_size) // stride + 1
    return np.zeros((*x.shape[:2], h_out, w_out)), x.shape


def avg_pool_backward(dout, cache):
    return np.zeros(cache)
""",
    "conv_transpose": """
def conv_transpose2d(x, w, b=None, stride=1, padding=0, output_padding=0):
    h_out = (x.shape[2] - 1) * stride - 2 * padding + w.shape[2] + output_padding
    w_out = (x.shape[3] - 1) * stride - 2 * padding + w.shape[3] + output_padding
    return np.zeros((x.shape[0], w.shape[1], h_out, w_out))
""",
    "receptive_field": """
def receptive_field(layers):
    return [0] * len(layers)
""",
    "tiny_cnn": """
def tiny_cnn_loss(x, y, params):
    return 0.0, {name: np.zeros_like(value) for name, value in params.items()}
""",
}

# --- style A: explicit im2col index arrays, np.add.at, dict caches, mask-based max pooling ----

STYLE_A = {
    "output_size": """
import math


def conv_output_size(n, f, stride=1, padding=0):
    if stride < 1 or padding < 0 or f > n + 2 * padding:
        raise ValueError(f"no window of size {f} fits n={n} with {stride=} and {padding=}")
    return math.floor((n + 2 * padding - f) / stride) + 1
""",
    "conv_naive_forward": """
def conv_forward_naive(x, w, b, stride=1, padding=0):
    n_samples, channels, height, width = x.shape
    n_filters, _, kh, kw = w.shape
    h_out = conv_output_size(height, kh, stride, padding)
    w_out = conv_output_size(width, kw, stride, padding)
    x_pad = np.zeros((n_samples, channels, height + 2 * padding, width + 2 * padding))
    x_pad[:, :, padding:padding + height, padding:padding + width] = x
    out = np.empty((n_samples, n_filters, h_out, w_out))
    for i in range(h_out):
        for j in range(w_out):
            for n in range(n_samples):
                for f in range(n_filters):
                    patch = x_pad[n, :, i * stride:i * stride + kh, j * stride:j * stride + kw]
                    out[n, f, i, j] = (patch * w[f]).sum() + b[f]
    return out, {"x": x, "w": w, "b": b, "stride": stride, "padding": padding}
""",
    "conv_naive_backward": """
def conv_backward_naive(dout, cache):
    x, w, stride, padding = cache["x"], cache["w"], cache["stride"], cache["padding"]
    n_samples, channels, height, width = x.shape
    n_filters, _, kh, kw = w.shape
    x_pad = np.zeros((n_samples, channels, height + 2 * padding, width + 2 * padding))
    x_pad[:, :, padding:padding + height, padding:padding + width] = x
    dx_pad = np.zeros_like(x_pad)
    dw = np.zeros(w.shape)
    for i in range(dout.shape[2]):
        for j in range(dout.shape[3]):
            for n in range(n_samples):
                for f in range(n_filters):
                    rows = slice(i * stride, i * stride + kh)
                    cols = slice(j * stride, j * stride + kw)
                    dw[f] += dout[n, f, i, j] * x_pad[n, :, rows, cols]
                    dx_pad[n, :, rows, cols] += dout[n, f, i, j] * w[f]
    db = dout.sum(axis=(0, 2, 3))
    return dx_pad[:, :, padding:padding + height, padding:padding + width], dw, db
""",
    "conv_fast_forward": """
def im2col_indices(channels, kh, kw, h_out, w_out, stride):
    c_idx, k_idx, l_idx = np.meshgrid(np.arange(channels), np.arange(kh), np.arange(kw),
                                      indexing="ij")
    i_idx, j_idx = np.meshgrid(np.arange(h_out), np.arange(w_out), indexing="ij")
    rows = i_idx.reshape(-1, 1) * stride + k_idx.reshape(1, -1)
    cols = j_idx.reshape(-1, 1) * stride + l_idx.reshape(1, -1)
    chans = np.broadcast_to(c_idx.reshape(1, -1), rows.shape)
    return chans, rows, cols


def conv_forward(x, w, b, stride=1, padding=0):
    n_samples, channels, height, width = x.shape
    n_filters, _, kh, kw = w.shape
    h_out = conv_output_size(height, kh, stride, padding)
    w_out = conv_output_size(width, kw, stride, padding)
    x_pad = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    chans, rows, cols = im2col_indices(channels, kh, kw, h_out, w_out, stride)
    x_cols = x_pad[:, chans, rows, cols].reshape(n_samples * h_out * w_out, -1)
    out = x_cols @ w.reshape(n_filters, -1).T + b
    out = out.reshape(n_samples, h_out, w_out, n_filters).transpose(0, 3, 1, 2)
    cache = {"x_shape": x.shape, "x_cols": x_cols, "w": w, "stride": stride, "padding": padding}
    return out, cache
""",
    "conv_fast_backward": """
def conv_backward(dout, cache):
    n_samples, channels, height, width = cache["x_shape"]
    w, stride, padding = cache["w"], cache["stride"], cache["padding"]
    n_filters, _, kh, kw = w.shape
    _, _, h_out, w_out = dout.shape
    dout_rows = dout.transpose(0, 2, 3, 1).reshape(-1, n_filters)
    dw = (dout_rows.T @ cache["x_cols"]).reshape(w.shape)
    db = dout_rows.sum(axis=0)
    dx_cols = (dout_rows @ w.reshape(n_filters, -1)).reshape(n_samples, h_out * w_out, -1)
    chans, rows, cols = im2col_indices(channels, kh, kw, h_out, w_out, stride)
    dx_pad = np.zeros((n_samples, channels, height + 2 * padding, width + 2 * padding))
    np.add.at(dx_pad, (slice(None), chans, rows, cols), dx_cols)
    return dx_pad[:, :, padding:padding + height, padding:padding + width], dw, db
""",
    "max_pool": """
def max_pool_forward(x, kernel_size=2, stride=2):
    conv_output_size(x.shape[2], kernel_size, stride)
    conv_output_size(x.shape[3], kernel_size, stride)
    windows = np.lib.stride_tricks.sliding_window_view(x, (kernel_size, kernel_size), (2, 3))
    out = windows[:, :, ::stride, ::stride].max(axis=(-2, -1))
    return out, (x, out, kernel_size, stride)


def max_pool_backward(dout, cache):
    x, out, k, s = cache
    windows = np.lib.stride_tricks.sliding_window_view(x, (k, k), (2, 3))[:, :, ::s, ::s]
    mask = windows == out[..., None, None]
    share = mask * dout[..., None, None]
    dx = np.zeros_like(x)
    h_out, w_out = out.shape[2:]
    for a in range(k):
        for c in range(k):
            dx[:, :, a:a + s * h_out:s, c:c + s * w_out:s] += share[..., a, c]
    return dx
""",
    "avg_pool": """
def avg_pool_forward(x, kernel_size=2, stride=2):
    h_out = conv_output_size(x.shape[2], kernel_size, stride)
    w_out = conv_output_size(x.shape[3], kernel_size, stride)
    out = np.zeros((*x.shape[:2], h_out, w_out))
    for i in range(h_out):
        for j in range(w_out):
            rows = slice(i * stride, i * stride + kernel_size)
            cols = slice(j * stride, j * stride + kernel_size)
            window = x[:, :, rows, cols]
            out[:, :, i, j] = window.mean(axis=(2, 3))
    return out, {"shape": x.shape, "k": kernel_size, "s": stride}


def avg_pool_backward(dout, cache):
    k, s = cache["k"], cache["s"]
    dx = np.zeros(cache["shape"])
    for i in range(dout.shape[2]):
        for j in range(dout.shape[3]):
            dx[:, :, i * s:i * s + k, j * s:j * s + k] += dout[:, :, i:i + 1, j:j + 1] / k**2
    return dx
""",
    "conv_transpose": """
def conv_transpose2d(x, w, b=None, stride=1, padding=0, output_padding=0):
    # the adjoint of a convolution is its input gradient: reuse conv_forward/conv_backward
    n_samples, c_in, height, width = x.shape
    _, c_out, kh, kw = w.shape
    h_out = (height - 1) * stride - 2 * padding + kh + output_padding
    w_out = (width - 1) * stride - 2 * padding + kw + output_padding
    _, cache = conv_forward(np.zeros((n_samples, c_out, h_out, w_out)), w, np.zeros(c_in),
                            stride, padding)
    out = conv_backward(x, cache)[0]
    return out if b is None else out + b.reshape(1, -1, 1, 1)
""",
    "receptive_field": """
def receptive_field(layers):
    kernels = np.array([kernel for kernel, _ in layers])
    strides = np.array([stride for _, stride in layers])
    jumps = np.concatenate([[1], np.cumprod(strides)[:-1]])
    return list(1 + np.cumsum((kernels - 1) * jumps))
""",
    "tiny_cnn": """
def tiny_cnn_loss(x, y, params):
    a, conv_cache = conv_forward(x, params["W1"], params["b1"], 1, 1)
    p, pool_cache = max_pool_forward(np.maximum(a, 0.0), 2, 2)
    flat = p.reshape(p.shape[0], -1)
    scores = flat @ params["W2"] + params["b2"]
    shifted = scores - scores.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    rows = np.arange(x.shape[0])
    loss = -log_probs[rows, y].mean()
    dscores = np.exp(log_probs)
    dscores[rows, y] -= 1.0
    dscores /= x.shape[0]
    dp = (dscores @ params["W2"].T).reshape(p.shape)
    da = max_pool_backward(dp, pool_cache) * (a > 0)
    _, dW1, db1 = conv_backward(da, conv_cache)
    return loss, {"W1": dW1, "b1": db1, "W2": flat.T @ dscores, "b2": dscores.sum(axis=0)}
""",
}

# --- style B: shift and add over kernel offsets, an object as cache, argmax index arrays, ----
# --- a transposed convolution by zero insertion, a tiny CNN on the loop layers -------------

STYLE_B = {
    "output_size": """
def conv_output_size(n, f, stride=1, padding=0):
    if stride < 1:
        raise ValueError("stride must be positive")
    if padding < 0:
        raise ValueError("padding must not be negative")
    if f > n + 2 * padding:
        raise ValueError("the kernel is larger than the padded input")
    count, start = 0, 0
    while start + f <= n + 2 * padding:
        count += 1
        start += stride
    return count
""",
    "conv_naive_forward": """
def conv_forward_naive(x, w, b, stride=1, padding=0):
    x_pad = np.pad(x, [(0, 0), (0, 0), (padding, padding), (padding, padding)], mode="constant")
    n_filters, _, kh, kw = w.shape
    h_out = conv_output_size(x.shape[2], kh, stride, padding)
    w_out = conv_output_size(x.shape[3], kw, stride, padding)
    out = np.zeros((x.shape[0], n_filters, h_out, w_out))
    for n in range(x.shape[0]):
        for f in range(n_filters):
            for i in range(h_out):
                for j in range(w_out):
                    region = x_pad[n, :, i * stride:i * stride + kh, j * stride:j * stride + kw]
                    out[n, f, i, j] = np.tensordot(region, w[f], axes=3) + b[f]
    return out, (x_pad, w, b, stride, padding, x.shape)
""",
    "conv_naive_backward": """
def conv_backward_naive(dout, cache):
    x_pad, w, b, stride, padding, x_shape = cache
    _, _, kh, kw = w.shape
    dx_pad = np.zeros(x_pad.shape)
    dw = np.zeros(w.shape)
    db = np.zeros(b.shape)
    for n in range(dout.shape[0]):
        for f in range(dout.shape[1]):
            for i in range(dout.shape[2]):
                for j in range(dout.shape[3]):
                    g = dout[n, f, i, j]
                    top, left = i * stride, j * stride
                    dw[f] = dw[f] + g * x_pad[n, :, top:top + kh, left:left + kw]
                    dx_pad[n, :, top:top + kh, left:left + kw] += g * w[f]
                    db[f] = db[f] + g
    return dx_pad[:, :, padding:padding + x_shape[2], padding:padding + x_shape[3]], dw, db
""",
    "conv_fast_forward": """
import types


def conv_forward(x, w, b, stride=1, padding=0):
    n_filters, _, kh, kw = w.shape
    h_out = conv_output_size(x.shape[2], kh, stride, padding)
    w_out = conv_output_size(x.shape[3], kw, stride, padding)
    x_pad = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    out = np.zeros((x.shape[0], n_filters, h_out, w_out)) + b.reshape(1, -1, 1, 1)
    for k in range(kh):
        for l in range(kw):
            shifted = x_pad[:, :, k:k + stride * h_out:stride, l:l + stride * w_out:stride]
            out += np.einsum("nchw,fc->nfhw", shifted, w[:, :, k, l], optimize=True)
    cache = types.SimpleNamespace(x_pad=x_pad, w=w, stride=stride, padding=padding,
                                  x_shape=x.shape)
    return out, cache
""",
    "conv_fast_backward": """
def conv_backward(dout, cache):
    x_pad, w, s, p = cache.x_pad, cache.w, cache.stride, cache.padding
    _, _, kh, kw = w.shape
    _, _, h_out, w_out = dout.shape
    dx_pad = np.zeros_like(x_pad)
    dw = np.zeros_like(w)
    for k in range(kh):
        for l in range(kw):
            rows, cols = slice(k, k + s * h_out, s), slice(l, l + s * w_out, s)
            dw[:, :, k, l] = np.einsum("nfhw,nchw->fc", dout, x_pad[:, :, rows, cols],
                                       optimize=True)
            dx_pad[:, :, rows, cols] += np.einsum("nfhw,fc->nchw", dout, w[:, :, k, l],
                                                  optimize=True)
    height, width = cache.x_shape[2:]
    return dx_pad[:, :, p:p + height, p:p + width], dw, dout.sum(axis=(0, 2, 3))
""",
    "max_pool": """
def max_pool_forward(x, kernel_size=2, stride=2):
    k, s = kernel_size, stride
    h_out = conv_output_size(x.shape[2], k, s)
    w_out = conv_output_size(x.shape[3], k, s)
    windows = np.lib.stride_tricks.sliding_window_view(x, (k, k), axis=(2, 3))[:, :, ::s, ::s]
    flat = windows.reshape(*windows.shape[:4], k * k)
    best = flat.argmax(axis=-1)
    out = np.take_along_axis(flat, best[..., None], axis=-1)[..., 0]
    rows = np.arange(h_out).reshape(1, 1, -1, 1) * s + best // k
    cols = np.arange(w_out).reshape(1, 1, 1, -1) * s + best % k
    return out, {"shape": x.shape, "rows": rows, "cols": cols}


def max_pool_backward(dout, cache):
    n_samples, channels = cache["shape"][:2]
    dx = np.zeros(cache["shape"])
    n_idx = np.arange(n_samples).reshape(-1, 1, 1, 1)
    c_idx = np.arange(channels).reshape(1, -1, 1, 1)
    np.add.at(dx, (n_idx, c_idx, cache["rows"], cache["cols"]), dout)
    return dx
""",
    "avg_pool": """
def avg_pool_forward(x, kernel_size=2, stride=2):
    k, s = kernel_size, stride
    h_out = conv_output_size(x.shape[2], k, s)
    w_out = conv_output_size(x.shape[3], k, s)
    total = np.zeros((*x.shape[:2], h_out, w_out))
    for a in range(k):
        for c in range(k):
            total = total + x[:, :, a:a + s * h_out:s, c:c + s * w_out:s]
    return total / (k * k), (x.shape, k, s)


def avg_pool_backward(dout, cache):
    shape, k, s = cache
    dx = np.zeros(shape)
    for n in range(dout.shape[0]):
        for c in range(dout.shape[1]):
            for i in range(dout.shape[2]):
                for j in range(dout.shape[3]):
                    dx[n, c, i * s:i * s + k, j * s:j * s + k] += dout[n, c, i, j] / (k * k)
    return dx
""",
    "conv_transpose": """
def conv_transpose2d(x, w, b=None, stride=1, padding=0, output_padding=0):
    # insert stride - 1 zeros between the pixels, pad by K - 1, convolve with the flipped kernel
    n_samples, c_in, height, width = x.shape
    _, c_out, kh, kw = w.shape
    dilated_h, dilated_w = (height - 1) * stride + 1, (width - 1) * stride + 1
    z = np.zeros((n_samples, c_in, dilated_h + 2 * (kh - 1) + output_padding,
                  dilated_w + 2 * (kw - 1) + output_padding))
    z[:, :, kh - 1:kh - 1 + dilated_h:stride, kw - 1:kw - 1 + dilated_w:stride] = x
    flipped = np.ascontiguousarray(w[:, :, ::-1, ::-1].transpose(1, 0, 2, 3))
    full, _ = conv_forward(z, flipped, np.zeros(c_out) if b is None else b, 1, 0)
    return full[:, :, padding:full.shape[2] - padding, padding:full.shape[3] - padding]
""",
    "receptive_field": """
def receptive_field(layers):
    fields = []
    for index, (kernel_size, _) in enumerate(layers):
        jump = int(np.prod([stride for _, stride in layers[:index]]))
        fields.append((fields[-1] if fields else 1) + (kernel_size - 1) * jump)
    return fields
""",
    "tiny_cnn": """
def tiny_cnn_loss(x, y, params):
    import i2dl.layers as course_layers
    from i2dl.losses import cross_entropy_loss

    a, conv_cache = conv_forward_naive(x, params["W1"], params["b1"], stride=1, padding=1)
    h, relu_cache = course_layers.relu_forward(a)
    p, pool_cache = max_pool_forward(h)
    scores, affine_cache = course_layers.affine_forward(p, params["W2"], params["b2"])
    loss, dscores = cross_entropy_loss(scores, y)
    dp, dW2, db2 = course_layers.affine_backward(dscores, affine_cache)
    dh = max_pool_backward(dp, pool_cache)
    _, dW1, db1 = conv_backward_naive(course_layers.relu_backward(dh, relu_cache), conv_cache)
    return loss, dict(W1=dW1, b1=db1, W2=dW2, b2=db2)
""",
}

# --- classic bugs ------------------------------------------------------------------------

# "Vectorised" in name only: the loops again.
FAKE_VECTORISED = """
def conv_forward(x, w, b, stride=1, padding=0):
    out, _ = conv_forward_naive(x, w, b, stride, padding)
    return out, (x, w, stride, padding)
"""

# Max pooling backward that assigns: a pixel that is the maximum of two overlapping windows
# keeps only the gradient of the last one.
POOL_ASSIGNS = """
def max_pool_forward(x, kernel_size=2, stride=2):
    k, s = kernel_size, stride
    h_out = conv_output_size(x.shape[2], k, s)
    w_out = conv_output_size(x.shape[3], k, s)
    out = np.zeros((*x.shape[:2], h_out, w_out))
    for i in range(h_out):
        for j in range(w_out):
            out[:, :, i, j] = x[:, :, i * s:i * s + k, j * s:j * s + k].max(axis=(2, 3))
    return out, (x, k, s)


def max_pool_backward(dout, cache):
    x, k, s = cache
    dx = np.zeros_like(x)
    for n in range(dout.shape[0]):
        for c in range(dout.shape[1]):
            for i in range(dout.shape[2]):
                for j in range(dout.shape[3]):
                    window = x[n, c, i * s:i * s + k, j * s:j * s + k]
                    a, b = np.unravel_index(np.argmax(window), window.shape)
                    dx[n, c, i * s + a, j * s + b] = dout[n, c, i, j]
    return dx
"""


# avg_pool_backward scales dout in place: right values, but the caller's dout changes.
WRITES_INTO_DOUT = sub("    share = dout / kernel_size**2\n",
                       "    share = dout\n    share /= kernel_size**2\n")
# conv_forward_naive computes the textbook convolution (flipped kernel).
FLIPS_KERNEL = sub("np.sum(window * w[f])", "np.sum(window * w[f, :, ::-1, ::-1])")
# dw divided by the batch size, in the loop version and in the vectorised one.
NAIVE_DW_OVER_N = sub("    dx = dx_pad[", "    dw = dw / n_samples\n    dx = dx_pad[")
FAST_DW_OVER_N = sub("    db = dout.sum(axis=(0, 2, 3))\n",
                     "    db = dout.sum(axis=(0, 2, 3))\n    windows = windows / x.shape[0]\n")


def _imports_torch(source: str) -> str:
    """A notebook that imports torch at the top: every graded call then checks many modules."""
    return "import torch\n\n" + source


# conv_transpose2d handed to PyTorch: right values, but not the student's own code.
TRANSPOSE_BY_TORCH = """
def conv_transpose2d(x, w, b=None, stride=1, padding=0, output_padding=0):
    import torch.nn.functional as F
    bias = None if b is None else torch.from_numpy(b)
    return F.conv_transpose2d(torch.from_numpy(x), torch.from_numpy(w), bias, stride=stride,
                              padding=padding, output_padding=output_padding).numpy()
"""


def _replace(source: str):
    return lambda _old: source.strip("\n")


def _notebook(solved=None, rewrite=None):
    return student_version(REPO, EX, EX, solved, rewrite)


def test_partial_styles_and_bugs_earn_exact_scores(tmp_path):
    everything = None
    students = {
        # sections 1-3 and 9: the loops and the formulas, nothing vectorised
        "loops_only": _notebook(["output_size", "conv_naive_forward", "conv_naive_backward",
                                 "receptive_field"]),
        # everything but the loop versions and the receptive field: the vectorised convolution
        # is right, but its speed is measured against the loops, which are missing
        "no_loops": _notebook(["output_size", "conv_fast_forward", "conv_fast_backward",
                               "max_pool", "avg_pool", "conv_transpose", "tiny_cnn"]),
        "zero_stubs": _notebook([], {gid: _replace(src) for gid, src in ZERO_STUBS.items()}),
        "style_a": _notebook(everything, {gid: _replace(src) for gid, src in STYLE_A.items()}),
        "style_b": _notebook(everything, {gid: _replace(src) for gid, src in STYLE_B.items()}),
        "bugs_1": _notebook(everything, {"conv_fast_forward": _replace(FAKE_VECTORISED),
                                         "max_pool": _replace(POOL_ASSIGNS),
                                         "avg_pool": WRITES_INTO_DOUT}),
        "bugs_2": _notebook(everything, {"output_size": _imports_torch,
                                         "conv_naive_forward": FLIPS_KERNEL,
                                         "conv_naive_backward": NAIVE_DW_OVER_N,
                                         "conv_fast_backward": FAST_DW_OVER_N,
                                         "conv_transpose": _replace(TRANSPOSE_BY_TORCH)}),
    }
    failing = {
        "loops_only": {"test_conv_forward", "test_conv_backward", "test_max_pool",
                       "test_avg_pool", "test_conv_transpose", "test_tiny_cnn"},
        "no_loops": {"test_conv_forward_naive", "test_conv_backward_naive", "test_conv_forward",
                     "test_conv_backward", "test_receptive_field"},
        "zero_stubs": set(POINTS),
        "style_a": set(),
        "style_b": set(),
        # each bug costs the test of the function it is in, and nothing else
        "bugs_1": {"test_conv_forward", "test_max_pool", "test_avg_pool"},
        # the wrong dw of conv_backward also breaks the end-to-end check of the tiny CNN built
        # on it; a notebook that imports torch still passes the speed checks
        "bugs_2": {"test_conv_forward_naive", "test_conv_backward_naive", "test_conv_backward",
                   "test_tiny_cnn", "test_conv_transpose"},
    }
    totals = {"loops_only": 30, "no_loops": 50, "zero_stubs": 0, "style_a": 95, "style_b": 95,
              "bugs_1": 65, "bugs_2": 40}

    results = grade_hand_ins(tmp_path, {(student, EX, EX): nb for student, nb in students.items()},
                             EX)

    errors = {}
    for student in students:
        tests = results[(student, EX)]
        assert {gid: t["max_score"] for gid, t in tests.items()} == POINTS | BY_HAND
        assert AUTOGRADED + sum(BY_HAND.values()) == 100
        # the written answer is the instructor's to grade: autograding awards nothing for it
        assert [(tests[gid]["score"], tests[gid]["error"]) for gid in BY_HAND] == [(0, None)]
        tests = {gid: t for gid, t in tests.items() if gid not in BY_HAND}
        errors[student] = lost(tests)
        assert set(errors[student]) == failing[student], (student, errors[student])
        assert all(tests[gid]["score"] == 0 for gid in failing[student]), (student, tests)
        assert total(tests) == totals[student] == AUTOGRADED - sum(
            POINTS[g] for g in failing[student])

    # the failures say what went wrong
    assert "faster" in errors["bugs_1"]["test_conv_forward"]
    assert "changed dout in place" in errors["bugs_1"]["test_avg_pool"]
    assert "max_pool_backward" in errors["bugs_1"]["test_max_pool"]
    assert "conv_forward_naive" in errors["no_loops"]["test_conv_forward"]
    assert "dividing by N" in errors["bugs_2"]["test_conv_backward"]
    assert "dividing by N" in errors["bugs_2"]["test_conv_backward_naive"]
    assert "DelegationError" in errors["bugs_2"]["test_conv_transpose"]
