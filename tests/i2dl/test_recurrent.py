"""i2dl.layers.recurrent against torch.nn.RNNCell and torch.nn.LSTMCell in float64.

Our weights are the transposes of torch's (``Wx = weight_ih.T``), and our single bias is torch's
``bias_ih + bias_hh``.
"""

import warnings

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from i2dl.gradcheck import numerical_gradient_array
from i2dl.layers.recurrent import (
    lstm_step_backward,
    lstm_step_forward,
    rnn_step_backward,
    rnn_step_forward,
)

pytestmark = pytest.mark.layers


def assert_close(actual, expected, rtol):
    """Every entry within ``rtol`` of the largest entry of ``expected`` (and of itself)."""
    assert actual.shape == expected.shape
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=rtol * np.abs(expected).max())


def make_step(rng, n, d, hidden, gates):
    """``x, h_prev, c_prev, Wx, Wh, b`` for ``gates`` gates (1 for the RNN, 4 for the LSTM)."""
    shapes = [(n, d), (n, hidden), (n, hidden), (d, gates * hidden), (hidden, gates * hidden)]
    return [rng.standard_normal(s) for s in shapes] + [rng.standard_normal(gates * hidden)]


sizes = st.tuples(st.integers(1, 5), st.integers(1, 6), st.integers(1, 6))
seeds = st.integers(0, 2**32 - 1)


def torch_cell(cell_class, d, hidden, Wx, Wh, b, rng):
    """A float64 torch cell holding our weights, with ``b`` split at random over its two biases."""
    cell = cell_class(d, hidden, dtype=torch.float64)
    b_ih = rng.standard_normal(b.shape)
    with torch.no_grad():
        cell.weight_ih.copy_(torch.tensor(Wx.T))
        cell.weight_hh.copy_(torch.tensor(Wh.T))
        cell.bias_ih.copy_(torch.tensor(b_ih))
        cell.bias_hh.copy_(torch.tensor(b - b_ih))
    return cell


@settings(max_examples=30, deadline=None)
@given(sizes=sizes, seed=seeds)
def test_rnn_step_matches_torch(sizes, seed):
    n, d, hidden = sizes
    rng = np.random.default_rng(seed)
    x, h_prev, _, Wx, Wh, b = make_step(rng, n, d, hidden, gates=1)
    h, cache = rnn_step_forward(x, h_prev, Wx, Wh, b)
    dh = rng.standard_normal(h.shape)
    grads = rnn_step_backward(dh, cache)

    cell = torch_cell(torch.nn.RNNCell, d, hidden, Wx, Wh, b, rng)
    x_t, h_t = torch.tensor(x, requires_grad=True), torch.tensor(h_prev, requires_grad=True)
    h_torch = cell(x_t, h_t)
    h_torch.backward(torch.tensor(dh))
    assert_close(h, h_torch.detach().numpy(), rtol=1e-10)
    expected = [x_t.grad, h_t.grad, cell.weight_ih.grad.T, cell.weight_hh.grad.T, cell.bias_ih.grad]
    for grad, want in zip(grads, expected, strict=True):
        assert_close(grad, want.numpy(), rtol=1e-8)
    assert_close(grads[4], cell.bias_hh.grad.numpy(), rtol=1e-8)


@settings(max_examples=30, deadline=None)
@given(sizes=sizes, seed=seeds)
def test_lstm_step_matches_torch(sizes, seed):
    n, d, hidden = sizes
    rng = np.random.default_rng(seed)
    x, h_prev, c_prev, Wx, Wh, b = make_step(rng, n, d, hidden, gates=4)
    h, c, cache = lstm_step_forward(x, h_prev, c_prev, Wx, Wh, b)
    dh, dc = rng.standard_normal(h.shape), rng.standard_normal(c.shape)
    grads = lstm_step_backward(dh, dc, cache)

    cell = torch_cell(torch.nn.LSTMCell, d, hidden, Wx, Wh, b, rng)
    inputs = [torch.tensor(a, requires_grad=True) for a in (x, h_prev, c_prev)]
    h_torch, c_torch = cell(inputs[0], (inputs[1], inputs[2]))
    torch.autograd.backward([h_torch, c_torch], [torch.tensor(dh), torch.tensor(dc)])
    assert_close(h, h_torch.detach().numpy(), rtol=1e-10)
    assert_close(c, c_torch.detach().numpy(), rtol=1e-10)
    expected = [t.grad for t in inputs] + [
        cell.weight_ih.grad.T,
        cell.weight_hh.grad.T,
        cell.bias_ih.grad,
    ]
    for grad, want in zip(grads, expected, strict=True):
        assert_close(grad, want.numpy(), rtol=1e-8)


def test_rnn_gradients_match_central_differences():
    rng = np.random.default_rng(0)
    args = make_step(rng, 3, 4, 5, gates=1)
    del args[2]  # no cell state
    h, cache = rnn_step_forward(*args)
    dh = rng.standard_normal(h.shape)
    for position, grad in enumerate(rnn_step_backward(dh, cache)):

        def h_of(value, position=position):
            return rnn_step_forward(*args[:position], value, *args[position + 1 :])[0]

        assert_close(grad, numerical_gradient_array(h_of, args[position].copy(), dh), rtol=1e-7)


def test_lstm_gradients_match_central_differences():
    rng = np.random.default_rng(1)
    args = make_step(rng, 3, 4, 5, gates=4)
    h, c, cache = lstm_step_forward(*args)
    dh, dc = rng.standard_normal(h.shape), rng.standard_normal(c.shape)
    for position, grad in enumerate(lstm_step_backward(dh, dc, cache)):

        def loss_terms(value, position=position):
            h, c, _ = lstm_step_forward(*args[:position], value, *args[position + 1 :])
            return np.concatenate([h, c])

        numerical = numerical_gradient_array(
            loss_terms, args[position].copy(), np.concatenate([dh, dc])
        )
        assert_close(grad, numerical, rtol=1e-7)


def test_lstm_gate_order_is_input_forget_cell_output():
    # Zero weights: the gates are sigmoid/tanh of the bias blocks alone.
    n, d, hidden = 2, 3, 1
    x, h_prev, c_prev = np.ones((n, d)), np.zeros((n, hidden)), np.full((n, hidden), 2.0)
    b = np.array([-100.0, 100.0, 0.5, 100.0])  # input gate shut, forget and output gates open
    h, c, _ = lstm_step_forward(x, h_prev, c_prev, np.zeros((d, 4)), np.zeros((1, 4)), b)
    np.testing.assert_allclose(c, c_prev, rtol=1e-12)
    np.testing.assert_allclose(h, np.tanh(c_prev), rtol=1e-12)


def test_saturated_gates_do_not_overflow():
    rng = np.random.default_rng(2)
    x, h_prev, c_prev, Wx, Wh, b = make_step(rng, 3, 4, 5, gates=4)
    # Underflow to 0 is harmless; overflow or inf - inf would not be.
    with warnings.catch_warnings(), np.errstate(over="raise", divide="raise", invalid="raise"):
        warnings.simplefilter("error")
        h, c, cache = lstm_step_forward(1e4 * x, h_prev, c_prev, Wx, Wh, b)
        grads = lstm_step_backward(np.ones_like(h), np.ones_like(c), cache)
    assert all(np.all(np.isfinite(a)) for a in (h, c, *grads))


def test_inputs_are_not_modified():
    rng = np.random.default_rng(3)
    rnn_args = make_step(rng, 2, 3, 4, gates=1)
    del rnn_args[2]
    lstm_args = make_step(rng, 2, 3, 4, gates=4)
    dh, dc = rng.standard_normal((2, 4)), rng.standard_normal((2, 4))
    arrays = [*rnn_args, *lstm_args, dh, dc]
    copies = [a.copy() for a in arrays]
    h, rnn_cache = rnn_step_forward(*rnn_args)
    rnn_grads = rnn_step_backward(dh, rnn_cache)
    h_lstm, c_lstm, lstm_cache = lstm_step_forward(*lstm_args)
    lstm_grads = lstm_step_backward(dh, dc, lstm_cache)
    for array, copy in zip(arrays, copies, strict=True):
        np.testing.assert_array_equal(array, copy)
    for result in (h, *rnn_grads, h_lstm, c_lstm, *lstm_grads):
        assert not any(np.shares_memory(result, a) for a in arrays)


@pytest.mark.parametrize(
    ("shapes", "gates"),
    [
        ([(2, 3), (2, 4), (3, 4), (4, 4), (5,)], 1),  # bias too long
        ([(2, 3), (3, 4), (3, 4), (4, 4), (4,)], 1),  # batch sizes differ
        ([(2, 3), (2, 4), (4, 4), (4, 4), (4,)], 1),  # Wx rows != D
        ([(2, 3), (2, 4), (3, 4), (4, 16), (16,)], 4),  # Wx has H, not 4H, columns
    ],
)
def test_bad_shapes_are_rejected(shapes, gates):
    x, h_prev, Wx, Wh, b = (np.zeros(s) for s in shapes)
    with pytest.raises(ValueError, match=r"got x \(2, 3\), h_prev .* b \("):
        if gates == 1:
            rnn_step_forward(x, h_prev, Wx, Wh, b)
        else:
            lstm_step_forward(x, h_prev, np.zeros_like(h_prev), Wx, Wh, b)


def test_lstm_cell_state_shape_is_checked():
    x, h_prev, _, Wx, Wh, b = make_step(np.random.default_rng(4), 2, 3, 4, gates=4)
    with pytest.raises(ValueError, match=r"c_prev must have the shape of h_prev \(2, 4\)"):
        lstm_step_forward(x, h_prev, np.zeros((2, 5)), Wx, Wh, b)
