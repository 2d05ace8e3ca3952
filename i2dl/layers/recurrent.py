"""One time step of a vanilla (tanh) RNN and of an LSTM.

Shapes: ``x`` is ``(N, D)``, hidden and cell states are ``(N, H)``. The weights are stored
input-major, ``Wx`` ``(D, k*H)`` and ``Wh`` ``(H, k*H)``, so a step is ``x @ Wx + h @ Wh + b``;
PyTorch stores the transposes (``weight_ih`` is ``(k*H, D)``).

The LSTM's four gates sit side by side along the ``4H`` axis in PyTorch's order (as in
``torch.nn.LSTMCell``): input ``i``, forget ``f``, cell candidate ``g``, output ``o``.
"""

from __future__ import annotations

import numpy as np

__all__ = ["rnn_step_forward", "rnn_step_backward", "lstm_step_forward", "lstm_step_backward"]


def _check_shapes(
    x: np.ndarray, h_prev: np.ndarray, Wx: np.ndarray, Wh: np.ndarray, b: np.ndarray, gates: int
) -> None:
    """Raise a ValueError naming all shapes if they do not fit together."""
    hidden = h_prev.shape[-1]
    fits = (
        x.ndim == 2
        and h_prev.ndim == 2
        and x.shape[0] == h_prev.shape[0]
        and Wx.shape == (x.shape[1], gates * hidden)
        and Wh.shape == (hidden, gates * hidden)
        and b.shape == (gates * hidden,)
    )
    if not fits:
        k = "" if gates == 1 else str(gates)
        raise ValueError(
            f"shapes do not fit: expected x (N, D), h_prev (N, H), Wx (D, {k}H), Wh (H, {k}H) "
            f"and b ({k}H,) with H = h_prev.shape[1] = {hidden}; got x {x.shape}, "
            f"h_prev {h_prev.shape}, Wx {Wx.shape}, Wh {Wh.shape}, b {b.shape}"
        )


def _sigmoid(a: np.ndarray) -> np.ndarray:
    # 1 / (1 + exp(-a)) written so that exp never overflows for large negative a.
    return np.exp(-np.logaddexp(0.0, -a))


def rnn_step_forward(
    x: np.ndarray, h_prev: np.ndarray, Wx: np.ndarray, Wh: np.ndarray, b: np.ndarray
) -> tuple[np.ndarray, tuple]:
    """One step of a tanh RNN: ``h = tanh(x @ Wx + h_prev @ Wh + b)``.

    Parameters
    ----------
    x : np.ndarray, shape (N, D)
        Input at this time step.
    h_prev : np.ndarray, shape (N, H)
        Hidden state from the previous step.
    Wx : np.ndarray, shape (D, H)
        Input-to-hidden weights.
    Wh : np.ndarray, shape (H, H)
        Hidden-to-hidden weights.
    b : np.ndarray, shape (H,)
        Bias.

    Returns
    -------
    h : np.ndarray, shape (N, H)
        New hidden state.
    cache : tuple
        What ``rnn_step_backward`` needs.

    Raises
    ------
    ValueError
        If the shapes do not fit together.
    """
    _check_shapes(x, h_prev, Wx, Wh, b, gates=1)
    h = np.tanh(x @ Wx + h_prev @ Wh + b)
    return h, (x, h_prev, Wx, Wh, h)


def rnn_step_backward(
    dh: np.ndarray, cache: tuple
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Backward pass of one tanh RNN step.

    Parameters
    ----------
    dh : np.ndarray, shape (N, H)
        Gradient of the loss with respect to the new hidden state.
    cache : tuple
        From ``rnn_step_forward``.

    Returns
    -------
    dx : np.ndarray, shape (N, D)
    dh_prev : np.ndarray, shape (N, H)
    dWx : np.ndarray, shape (D, H)
    dWh : np.ndarray, shape (H, H)
    db : np.ndarray, shape (H,)
    """
    x, h_prev, Wx, Wh, h = cache
    da = dh * (1.0 - h**2)  # tanh'(a) = 1 - tanh(a)^2
    return da @ Wx.T, da @ Wh.T, x.T @ da, h_prev.T @ da, da.sum(axis=0)


def lstm_step_forward(
    x: np.ndarray,
    h_prev: np.ndarray,
    c_prev: np.ndarray,
    Wx: np.ndarray,
    Wh: np.ndarray,
    b: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, tuple]:
    """One LSTM step.

    With ``a = x @ Wx + h_prev @ Wh + b`` split into four ``(N, H)`` blocks:
    ``i, f, o = sigmoid(a_i), sigmoid(a_f), sigmoid(a_o)``, ``g = tanh(a_g)``,
    ``c = f * c_prev + i * g`` and ``h = o * tanh(c)``.

    Parameters
    ----------
    x : np.ndarray, shape (N, D)
        Input at this time step.
    h_prev : np.ndarray, shape (N, H)
        Hidden state from the previous step.
    c_prev : np.ndarray, shape (N, H)
        Cell state from the previous step.
    Wx : np.ndarray, shape (D, 4H)
        Input-to-gates weights, gates in the order i, f, g, o.
    Wh : np.ndarray, shape (H, 4H)
        Hidden-to-gates weights, same order.
    b : np.ndarray, shape (4H,)
        Gate biases, same order (PyTorch's ``bias_ih + bias_hh``).

    Returns
    -------
    h : np.ndarray, shape (N, H)
        New hidden state.
    c : np.ndarray, shape (N, H)
        New cell state.
    cache : tuple
        What ``lstm_step_backward`` needs.

    Raises
    ------
    ValueError
        If the shapes do not fit together.
    """
    _check_shapes(x, h_prev, Wx, Wh, b, gates=4)
    if c_prev.shape != h_prev.shape:
        raise ValueError(f"c_prev must have the shape of h_prev {h_prev.shape}, got {c_prev.shape}")
    a_i, a_f, a_g, a_o = np.split(x @ Wx + h_prev @ Wh + b, 4, axis=1)
    i, f, g, o = _sigmoid(a_i), _sigmoid(a_f), np.tanh(a_g), _sigmoid(a_o)
    c = f * c_prev + i * g
    tanh_c = np.tanh(c)
    h = o * tanh_c
    return h, c, (x, h_prev, c_prev, Wx, Wh, i, f, g, o, tanh_c)


def lstm_step_backward(
    dh: np.ndarray, dc: np.ndarray, cache: tuple
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Backward pass of one LSTM step.

    Parameters
    ----------
    dh : np.ndarray, shape (N, H)
        Gradient with respect to the new hidden state.
    dc : np.ndarray, shape (N, H)
        Gradient with respect to the new cell state that arrives from the next time step
        (zeros after the last step).
    cache : tuple
        From ``lstm_step_forward``.

    Returns
    -------
    dx : np.ndarray, shape (N, D)
    dh_prev : np.ndarray, shape (N, H)
    dc_prev : np.ndarray, shape (N, H)
    dWx : np.ndarray, shape (D, 4H)
    dWh : np.ndarray, shape (H, 4H)
    db : np.ndarray, shape (4H,)
    """
    x, h_prev, c_prev, Wx, Wh, i, f, g, o, tanh_c = cache
    # c reaches the loss directly (dc) and through h = o * tanh(c).
    dc_total = dc + dh * o * (1.0 - tanh_c**2)
    da = np.concatenate(
        [
            dc_total * g * i * (1.0 - i),  # sigmoid'(a) = s * (1 - s)
            dc_total * c_prev * f * (1.0 - f),
            dc_total * i * (1.0 - g**2),
            dh * tanh_c * o * (1.0 - o),
        ],
        axis=1,
    )
    dc_prev = dc_total * f
    return da @ Wx.T, da @ Wh.T, dc_prev, x.T @ da, h_prev.T @ da, da.sum(axis=0)
