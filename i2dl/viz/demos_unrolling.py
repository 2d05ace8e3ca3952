"""Lecture 14: sparse deconvolution by ISTA, and a widget that steps through unrolled iterations.

The classical side of the lecture is plain numpy: ``blur_matrix`` builds the forward operator of
a 1-D deblurring problem, ``spike_signals`` draws sparse test signals, and ``ista`` runs the
iterative shrinkage-thresholding algorithm (optionally with FISTA's momentum) for the energy

    E(x) = 1/2 ||A x - y||^2 + lam ||x||_1 .

``unrolling_demo`` shows precomputed iterates of several methods side by side, with a slider
over the iteration, so that the lecture can compare ISTA with trained unrolled networks at the
same number of iterations.
"""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from i2dl.viz.interactive import InteractiveFigure, int_slider

__all__ = [
    "blur_matrix",
    "spike_signals",
    "soft_threshold",
    "lasso_energy",
    "ista",
    "nmse_db",
    "unrolling_demo",
]


def blur_matrix(n: int, sigma: float) -> np.ndarray:
    """The matrix of a Gaussian blur of width ``sigma`` on signals of length ``n``.

    Row ``i`` holds the kernel ``exp(-(i - j)^2 / (2 sigma^2))`` centred at ``i``, cut off at
    the ends of the signal (zero boundary), scaled so that the largest row sum is 1.

    Parameters
    ----------
    n : int
        Length of the signals.
    sigma : float
        Standard deviation of the Gaussian kernel, in samples.

    Returns
    -------
    np.ndarray, shape (n, n)
        The symmetric blur matrix ``A``.
    """
    index = np.arange(n)
    A = np.exp(-0.5 * ((index[:, None] - index[None, :]) / sigma) ** 2)
    return A / A.sum(axis=1).max()


def spike_signals(
    n_signals: int, n: int, density: float, rng: np.random.Generator
) -> np.ndarray:
    """Sparse signals: each sample is a spike with probability ``density``, else zero.

    A spike has a random sign and a magnitude uniform in [0.5, 1.5].

    Parameters
    ----------
    n_signals, n : int
        Number and length of the signals.
    density : float
        Probability that a sample is non-zero.
    rng : np.random.Generator
        Source of randomness.

    Returns
    -------
    np.ndarray, shape (n_signals, n)
    """
    support = rng.random((n_signals, n)) < density
    signs = rng.choice([-1.0, 1.0], size=(n_signals, n))
    return support * signs * rng.uniform(0.5, 1.5, size=(n_signals, n))


def soft_threshold(v: np.ndarray, t: float | np.ndarray) -> np.ndarray:
    """The proximal map of ``t ||.||_1``: ``sign(v) max(|v| - t, 0)``, elementwise."""
    return np.sign(v) * np.maximum(np.abs(v) - t, 0.0)


def lasso_energy(A: np.ndarray, x: np.ndarray, y: np.ndarray, lam: float) -> np.ndarray:
    """``E(x) = 1/2 ||A x - y||^2 + lam ||x||_1`` for each row of ``x`` and ``y`` (N, n)."""
    residual = x @ A.T - y
    return 0.5 * np.sum(residual**2, axis=-1) + lam * np.sum(np.abs(x), axis=-1)


def ista(
    A: np.ndarray,
    y: np.ndarray,
    lam: float,
    n_iter: int,
    step: float | None = None,
    fista: bool = False,
    every: int = 1,
) -> np.ndarray:
    """Iterates of ISTA (or FISTA) for ``min_x 1/2 ||A x - y||^2 + lam ||x||_1``, from x = 0.

    ISTA is ``x_{k+1} = soft(x_k - step A^T (A x_k - y), step lam)``. FISTA evaluates the same
    step at an extrapolated point ``z_k = x_k + (t_{k-1} - 1) / t_k (x_k - x_{k-1})`` with
    ``t_k = (1 + sqrt(1 + 4 t_{k-1}^2)) / 2``, ``t_0 = 1`` (Beck and Teboulle, 2009).

    Parameters
    ----------
    A : np.ndarray, shape (m, n)
        Forward operator.
    y : np.ndarray, shape (N, m)
        Measurements, one per row.
    lam : float
        Weight of the L1 regulariser.
    n_iter : int
        Number of iterations.
    step : float, optional
        Step size; default ``1 / L`` with ``L`` the largest eigenvalue of ``A^T A``.
    fista : bool
        Use FISTA's momentum.
    every : int
        Keep only every ``every``-th iterate (to save memory in long runs).

    Returns
    -------
    np.ndarray, shape (n_iter // every + 1, N, n)
        ``x_0 = 0, x_every, x_{2 every}, ...``; all of ``x_0, ..., x_{n_iter}`` by default.
    """
    if step is None:
        step = 1.0 / np.linalg.eigvalsh(A.T @ A).max()
    x = np.zeros((y.shape[0], A.shape[1]))
    z, t = x, 1.0
    iterates = [x]
    for k in range(1, n_iter + 1):
        x_new = soft_threshold(z - step * ((z @ A.T - y) @ A), step * lam)
        if fista:
            t_new = (1.0 + np.sqrt(1.0 + 4.0 * t**2)) / 2.0
            z = x_new + (t - 1.0) / t_new * (x_new - x)
            t = t_new
        else:
            z = x_new
        x = x_new
        if k % every == 0:
            iterates.append(x)
    return np.stack(iterates)


def nmse_db(x_hat: np.ndarray, x: np.ndarray) -> float:
    """Normalised squared error ``10 log10(sum (x_hat - x)^2 / sum x^2)`` in decibels.

    0 dB is the error of the estimate ``x_hat = 0``; undefined (inf or nan) when ``x`` is zero.
    """
    return float(10.0 * np.log10(np.sum((x_hat - x) ** 2) / np.sum(x**2)))


def unrolling_demo(
    x_true: np.ndarray,
    y: np.ndarray,
    iterates: dict[str, np.ndarray],
    n_shown: int = 5,
) -> InteractiveFigure:
    """Step through the iterations of several methods on the same test signals (lecture 14).

    Left, one panel per method: the true spikes (grey stems), the blurred noisy measurement
    (thin grey line) and the method's estimate after ``k`` iterations, with its error on this
    signal in the title. Right: the error over a whole test set against the iteration for every
    method, with the current ``k`` marked.

    Parameters
    ----------
    x_true : np.ndarray, shape (N, n)
        True signals.
    y : np.ndarray, shape (N, n)
        Their measurements.
    iterates : dict[str, np.ndarray]
        For each method, its iterates of shape (K + 1, N, n) (index 0 is the start); all
        methods must have the same ``K``.
    n_shown : int
        The signal slider runs over the first ``n_shown`` signals.

    Returns
    -------
    InteractiveFigure
        Controls ``k`` (iteration, 0 to K, default K) and ``signal`` (0 to n_shown - 1).
    """
    lengths = {value.shape[0] for value in iterates.values()}
    if len(lengths) != 1:
        raise ValueError(f"all methods need the same number of iterates, found {lengths}.")
    K = lengths.pop() - 1
    curves = {name: [nmse_db(value[k], x_true) for k in range(K + 1)]
              for name, value in iterates.items()}
    positions = np.arange(x_true.shape[1])
    low, high = 1.2 * x_true[:n_shown].min(), 1.2 * x_true[:n_shown].max()

    def draw(fig: Figure, k: int, signal: int) -> None:
        grid = fig.add_gridspec(len(iterates), 2, width_ratios=[2.2, 1])
        for row, (name, value) in enumerate(iterates.items()):
            ax = fig.add_subplot(grid[row, 0])
            estimate = value[k, signal]
            ax.vlines(positions, 0, x_true[signal], color="0.6", lw=3, label="true signal")
            ax.plot(positions, y[signal], color="0.4", lw=0.8, label="measurement")
            ax.plot(positions, estimate, "o-", color=f"C{row}", ms=3, lw=1, label=name)
            ax.set_ylim(low, high)
            error = nmse_db(estimate, x_true[signal])
            ax.set_title(f"{name}, iteration {k}: error {error:.1f} dB", fontsize=9)
            ax.tick_params(labelsize=7)
            if row < len(iterates) - 1:
                ax.set_xticklabels([])
        ax_curve = fig.add_subplot(grid[:, 1])
        for row, (name, curve) in enumerate(curves.items()):
            ax_curve.plot(range(K + 1), curve, "o-", color=f"C{row}", ms=3, label=name)
        ax_curve.axvline(k, color="k", lw=0.8, ls="--")
        ax_curve.set(xlabel="iteration k", ylabel="error on the test set (dB)")
        ax_curve.legend(fontsize=8)
        ax_curve.grid(True, alpha=0.3)

    controls = {
        "k": int_slider("iteration k", K, 0, K),
        "signal": int_slider("test signal", 0, 0, n_shown - 1),
    }
    return InteractiveFigure(draw, controls, figsize=(10.0, 1.6 + 1.4 * len(iterates)))
