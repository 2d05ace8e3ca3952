"""Interactive demo for lecture 12: how a gradient travels back through time.

``gradient_flow`` unrolls a tanh RNN or an LSTM (the step functions of ``i2dl.layers``) for
``steps`` steps on random inputs, backpropagates a unit gradient from the last hidden state, and
records the norm of the gradient that reaches the state at every earlier step. The recurrent
weight matrices are scaled random orthogonal matrices, so that their spectral radius and their
largest singular value are both exactly the chosen value. ``gradient_flow_demo`` puts sliders on
the spectral radius, the input scale and the LSTM's forget-gate bias.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from matplotlib.figure import Figure

from i2dl.layers import lstm_step_backward, lstm_step_forward, rnn_step_backward, rnn_step_forward
from i2dl.viz.interactive import InteractiveFigure, dropdown, float_slider, log_slider

__all__ = ["CELLS", "GradientFlow", "recurrent_weights", "gradient_flow", "gradient_flow_demo"]

CELLS = ("tanh RNN", "LSTM")


def recurrent_weights(
    hidden: int, spectral_radius: float, rng: np.random.Generator
) -> np.ndarray:
    """A random orthogonal ``(hidden, hidden)`` matrix times ``spectral_radius``.

    Every eigenvalue then has modulus ``spectral_radius`` and every singular value equals it,
    so the spectral radius and the spectral norm coincide (for a general matrix the norm can be
    much larger than the radius).

    Parameters
    ----------
    hidden : int
        Size ``H`` of the matrix.
    spectral_radius : float
        The modulus of every eigenvalue.
    rng : numpy.random.Generator
        Source of randomness.

    Returns
    -------
    np.ndarray, shape (H, H)
    """
    q, r = np.linalg.qr(rng.standard_normal((hidden, hidden)))
    # Moving the signs of R's diagonal into Q makes Q uniformly distributed (Haar measure).
    return spectral_radius * q * np.sign(np.diag(r))


@dataclass
class GradientFlow:
    """What ``gradient_flow`` measured.

    Attributes
    ----------
    lags : np.ndarray of int, shape (steps + 1,)
        ``k = 0 .. steps``: how many steps before the last one the state lies.
    norms : np.ndarray, shape (steps + 1,)
        Norm of the gradient of ``u . h_T`` (``u`` a unit vector) with respect to the state at
        step ``T - k``: ``||dh||`` for the RNN, ``sqrt(||dh||^2 + ||dc||^2)`` for the LSTM.
        ``norms[0] = 1``.
    cell_path : np.ndarray of shape (steps + 1,), or None
        LSTM only: the norm of the part that travels along the cell state alone,
        ``(f_{T-k+1} * ... * f_T) * dc_T``; None for the RNN.
    factors : np.ndarray, shape (steps, H)
        The per-step diagonal factors of the backward pass: ``1 - h_t^2`` (the tanh derivative)
        for the RNN, the forget gate ``f_t`` for the LSTM.
    Wx, Wh, b : np.ndarray
        The weights used, in the layout of ``i2dl.layers`` (``Wh`` is ``(H, H)`` or ``(H, 4H)``).
    x : np.ndarray, shape (steps, 1, D)
        The inputs, one sequence of ``steps`` steps.
    u : np.ndarray, shape (1, H)
        The unit vector that defines the loss ``u . h_T``.
    """

    lags: np.ndarray
    norms: np.ndarray
    cell_path: np.ndarray | None
    factors: np.ndarray
    Wx: np.ndarray
    Wh: np.ndarray
    b: np.ndarray
    x: np.ndarray
    u: np.ndarray


def gradient_flow(
    cell: str = "tanh RNN",
    spectral_radius: float = 1.0,
    steps: int = 100,
    *,
    hidden: int = 32,
    input_size: int = 4,
    input_scale: float = 0.1,
    forget_bias: float = 0.0,
    seed: int = 0,
) -> GradientFlow:
    """Backpropagate from the last hidden state of an unrolled RNN or LSTM; record the norms.

    The network starts from zero states and reads ``steps`` inputs drawn from
    ``N(0, input_scale^2)``. Input weights are ``N(0, 1 / input_size)``, biases zero (for the
    LSTM, the forget-gate block of the bias is ``forget_bias``). The recurrent matrix of the RNN,
    and each of the LSTM's four ``(H, H)`` blocks, come from ``recurrent_weights``.

    Parameters
    ----------
    cell : str
        ``"tanh RNN"`` or ``"LSTM"``.
    spectral_radius : float
        Spectral radius (and spectral norm) of the recurrent matrices.
    steps : int
        Number of time steps ``T``.
    hidden : int
        Hidden size ``H``.
    input_size : int
        Input size ``D``.
    input_scale : float
        Standard deviation of the inputs; large inputs saturate the tanh units and the gates.
    forget_bias : float
        LSTM only: bias of the forget gate (0 for the RNN is ignored).
    seed : int
        Seed of the weights, inputs and ``u``; one seed gives the same draws for every
        ``spectral_radius``, so curves for different radii differ only by the scale.

    Returns
    -------
    GradientFlow

    Raises
    ------
    ValueError
        If ``cell`` is not one of ``CELLS``.
    """
    if cell not in CELLS:
        raise ValueError(f"cell={cell!r}; expected one of {CELLS}.")
    gates = 1 if cell == "tanh RNN" else 4
    rng = np.random.default_rng(seed)
    Wx = rng.standard_normal((input_size, gates * hidden)) / np.sqrt(input_size)
    Wh = np.concatenate(
        [recurrent_weights(hidden, spectral_radius, rng) for _ in range(gates)], axis=1
    )
    x = input_scale * rng.standard_normal((steps, 1, input_size))
    u = rng.standard_normal((1, hidden))
    u /= np.linalg.norm(u)
    b = np.zeros(gates * hidden)
    h = np.zeros((1, hidden))
    caches = []
    if gates == 1:
        for t in range(steps):
            h, cache = rnn_step_forward(x[t], h, Wx, Wh, b)
            caches.append(cache)
        factors = np.array([1.0 - cache[-1][0] ** 2 for cache in caches])
        norms = [1.0]
        dh = u
        for cache in reversed(caches):
            _, dh, _, _, _ = rnn_step_backward(dh, cache)
            norms.append(np.linalg.norm(dh))
        cell_path = None
    else:
        b[hidden : 2 * hidden] = forget_bias  # gate order i, f, g, o
        c = np.zeros((1, hidden))
        for t in range(steps):
            h, c, cache = lstm_step_forward(x[t], h, c, Wx, Wh, b)
            caches.append(cache)
        # The cache holds (x, h_prev, c_prev, Wx, Wh, i, f, g, o, tanh_c).
        factors = np.array([cache[6][0] for cache in caches])
        norms = [1.0]
        dh, dc = u, np.zeros_like(u)
        for cache in reversed(caches):
            _, dh, dc, _, _, _ = lstm_step_backward(dh, dc, cache)
            norms.append(np.sqrt(np.sum(dh**2) + np.sum(dc**2)))
        # Along the cell state alone: dc_T from h_T = o_T * tanh(c_T), then one f per step.
        *_, o_last, tanh_c_last = caches[-1]
        dc_last = u * o_last * (1.0 - tanh_c_last**2)
        kept = np.cumprod(factors[::-1], axis=0)  # f_T, f_T f_{T-1}, ...
        cell_path = np.concatenate(
            [[np.linalg.norm(dc_last)], np.linalg.norm(kept * dc_last, axis=1)]
        )
    return GradientFlow(
        lags=np.arange(steps + 1), norms=np.array(norms), cell_path=cell_path, factors=factors,
        Wx=Wx, Wh=Wh, b=b, x=x, u=u,
    )


def gradient_flow_demo(steps: int = 100) -> InteractiveFigure:
    """Gradient norm against time lag for a tanh RNN or an LSTM (lecture 12).

    Left: ``||dL/dstate_{T-k}||`` against the lag ``k`` on a log scale, with the bound
    ``rho^k`` that holds for the tanh RNN (its recurrent matrix has spectral norm ``rho`` and
    ``|tanh'| <= 1``) and, for the LSTM, the part carried by the cell state alone. Right: a
    histogram of the per-step factors of the backward pass (``1 - h_t^2`` for the RNN, the
    forget gates ``f_t`` for the LSTM). Things to see: the RNN's gradient dies at ``rho < 1`` and
    can grow for ``rho > 1`` only while the units are not saturated (raise the input scale);
    the LSTM keeps a gradient over many steps when its forget gates sit near 1 (raise the
    forget-gate bias), almost whatever ``rho`` is.

    Parameters
    ----------
    steps : int
        Number of time steps unrolled.
    """

    def draw(
        fig: Figure, cell: str, spectral_radius: float, input_scale: float, forget_bias: float
    ) -> None:
        flow = gradient_flow(cell, spectral_radius, steps, input_scale=input_scale,
                             forget_bias=forget_bias)
        ax_norm, ax_factor = fig.subplots(1, 2, width_ratios=[1.6, 1])
        ax_norm.semilogy(flow.lags, flow.norms, color="C0", lw=2, label="gradient norm")
        if flow.cell_path is None:
            bound = spectral_radius ** flow.lags.astype(float)
            ax_norm.semilogy(flow.lags, bound, "k--", lw=1, label=r"bound $\rho^k$")
        else:
            ax_norm.semilogy(flow.lags, flow.cell_path, color="C1", ls="--", lw=1.5,
                             label=r"cell path alone: $\prod f \odot dc_T$")
        # One fixed range, so that settings can be compared as the controls move.
        ax_norm.set_ylim(1e-20, 1e8)
        ax_norm.set_xlim(0, steps)
        ax_norm.set(xlabel="time lag k (steps back from the last one)",
                    ylabel=r"$\|\partial L / \partial\,\mathrm{state}_{T-k}\|$")
        ax_norm.set_title(f"{cell}, spectral radius {spectral_radius:.2f}: "
                          f"norm after {steps} steps {flow.norms[-1]:.1e}", fontsize=10)
        ax_norm.grid(True, which="major", alpha=0.3)
        ax_norm.legend(fontsize=8, loc="lower left")
        name = r"$1 - h_t^2$" if flow.cell_path is None else r"forget gate $f_t$"
        ax_factor.hist(flow.factors.ravel(), bins=np.linspace(0.0, 1.0, 41), color="C2")
        ax_factor.set_xlim(0.0, 1.0)
        ax_factor.set_yticks([])
        ax_factor.set(xlabel=f"per-step factor {name}")
        ax_factor.set_title(f"mean factor {flow.factors.mean():.2f}", fontsize=10)

    controls = {
        "cell": dropdown("cell", CELLS),
        "spectral_radius": float_slider("spectral radius ρ", 1.0, 0.25, 2.0, step=0.05),
        "input_scale": log_slider("input scale", 0.1, 0.01, 3.0),
        "forget_bias": float_slider("forget bias (LSTM)", 0.0, -2.0, 6.0, step=0.5),
    }
    return InteractiveFigure(draw, controls, figsize=(10.0, 4.0))
