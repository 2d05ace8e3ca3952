"""Fast numpy convolution against PyTorch's CPU conv2d, and against the naive loops.

Both sides compute forward + backward in float64 on the same arrays, interleaved run by run so
that load from other processes hits both alike; the ratio is the median of the paired ratios.

    python benchmarks/bench_conv.py
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import numpy as np
import torch

from i2dl.layers import conv_backward, conv_backward_naive, conv_forward, conv_forward_naive


def _paired_ratio(ours: Callable[[], object], baseline: Callable[[], object], repeats: int):
    ours(), baseline()  # warm-up
    t_ours, t_base = [], []
    for _ in range(repeats):
        for fn, times in ((ours, t_ours), (baseline, t_base)):
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
    ratio = statistics.median(a / b for a, b in zip(t_ours, t_base, strict=True))
    return statistics.median(t_ours), statistics.median(t_base), ratio


def _arrays(n, c, hw, f, k, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, c, hw, hw))
    w = rng.standard_normal((f, c, k, k))
    b = rng.standard_normal(f)
    return x, w, b


def fast_vs_torch(report: Callable[[str], object] = print, repeats: int = 15) -> float:
    """N=64, C=16, 32x32, F=32, 3x3, stride 1, padding 1, float64; returns ours / torch."""
    x, w, b = _arrays(64, 16, 32, 32, 3)
    dout = np.random.default_rng(1).standard_normal((64, 32, 32, 32))
    xt, wt, bt = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    dt = torch.tensor(dout)

    def ours():
        _, cache = conv_forward(x, w, b, stride=1, padding=1)
        return conv_backward(dout, cache)

    def theirs():
        xt.grad = wt.grad = bt.grad = None
        torch.nn.functional.conv2d(xt, wt, bt, stride=1, padding=1).backward(dt)

    dx, dw, db = ours()
    theirs()
    worst = max(
        float(np.abs(dx - xt.grad.numpy()).max()),
        float(np.abs(dw - wt.grad.numpy()).max()),
        float(np.abs(db - bt.grad.numpy()).max()),
    )
    t_ours, t_torch, ratio = _paired_ratio(ours, theirs, repeats)
    report(
        f"conv: fast numpy fwd+bwd {t_ours * 1e3:.1f} ms vs torch conv2d fwd+bwd "
        f"{t_torch * 1e3:.1f} ms (float64, CPU, {torch.get_num_threads()} threads), "
        f"ratio {ratio:.2f}x (goal <= 1.5x); max |gradient difference| {worst:.1e}"
    )
    return ratio


def naive_vs_fast(report: Callable[[str], object] = print, repeats: int = 3) -> float:
    """The teaching loops against the vectorised version on a small shape; returns naive/fast."""
    x, w, b = _arrays(4, 3, 16, 8, 3)
    dout = np.random.default_rng(1).standard_normal((4, 8, 16, 16))

    def naive():
        _, cache = conv_forward_naive(x, w, b, stride=1, padding=1)
        return conv_backward_naive(dout, cache)

    def fast():
        _, cache = conv_forward(x, w, b, stride=1, padding=1)
        return conv_backward(dout, cache)

    t_naive, t_fast, ratio = _paired_ratio(naive, fast, repeats)
    report(
        f"conv: naive loops {t_naive * 1e3:.1f} ms vs fast {t_fast * 1e3:.2f} ms on "
        f"N=4, C=3, 16x16, F=8, 3x3: the loops are {ratio:.0f}x slower"
    )
    return ratio


if __name__ == "__main__":
    fast_vs_torch()
    naive_vs_fast()
