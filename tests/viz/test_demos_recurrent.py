"""The lecture 12 demo: gradient norms through time, checked against autograd, and its figure."""

import numpy as np
import pytest
import torch

from i2dl.viz.demos_recurrent import gradient_flow, gradient_flow_demo, recurrent_weights

pytestmark = pytest.mark.viz


def test_recurrent_weights_have_the_chosen_spectral_radius_and_norm():
    W = recurrent_weights(16, 0.7, np.random.default_rng(0))
    np.testing.assert_allclose(np.abs(np.linalg.eigvals(W)), 0.7, rtol=1e-12)
    np.testing.assert_allclose(np.linalg.svd(W, compute_uv=False), 0.7, rtol=1e-12)


def _unrolled_torch(flow, cell):
    """The network of a GradientFlow in float64 torch; returns the initial state leaves and h_T."""
    Wx, Wh, b = (torch.from_numpy(a) for a in (flow.Wx, flow.Wh, flow.b))
    hidden = flow.u.shape[1]
    h = torch.zeros(1, hidden, dtype=torch.float64, requires_grad=True)
    c = torch.zeros(1, hidden, dtype=torch.float64, requires_grad=True)
    leaves, state_h, state_c = (h, c), h, c
    for x in torch.from_numpy(flow.x):
        a = x @ Wx + state_h @ Wh + b
        if cell == "tanh RNN":
            state_h = torch.tanh(a)
        else:
            a_i, a_f, a_g, a_o = a.chunk(4, dim=1)
            state_c = torch.sigmoid(a_f) * state_c + torch.sigmoid(a_i) * torch.tanh(a_g)
            state_h = torch.sigmoid(a_o) * torch.tanh(state_c)
    return leaves, state_h


@pytest.mark.parametrize("cell", ["tanh RNN", "LSTM"])
def test_norm_at_the_first_step_equals_autograd(cell):
    flow = gradient_flow(cell, 1.3, steps=25, hidden=8, input_scale=0.5, forget_bias=2.0, seed=3)
    (h0, c0), h_last = _unrolled_torch(flow, cell)
    (h_last @ torch.from_numpy(flow.u[0])).sum().backward()
    expected = h0.grad.norm() if cell == "tanh RNN" else torch.cat([h0.grad, c0.grad]).norm()
    assert flow.norms[0] == 1.0
    assert flow.norms[-1] == pytest.approx(expected.item(), rel=1e-10)


def test_tanh_rnn_obeys_the_bound_and_vanishes_below_radius_one():
    for rho in (0.5, 1.0, 1.5):
        flow = gradient_flow("tanh RNN", rho, steps=60)
        assert np.all(flow.norms <= rho ** flow.lags.astype(float) * (1 + 1e-12))
    weak = gradient_flow("tanh RNN", 0.5, steps=60)
    assert weak.norms[-1] < 1e-15
    # Factors are tanh derivatives: in (0, 1].
    assert np.all((weak.factors > 0) & (weak.factors <= 1))


def test_saturation_turns_explosion_into_vanishing():
    weak_inputs = gradient_flow("tanh RNN", 1.5, steps=100, input_scale=0.1)
    strong_inputs = gradient_flow("tanh RNN", 1.5, steps=100, input_scale=1.0)
    assert weak_inputs.norms[-1] > 10.0
    assert strong_inputs.norms[-1] < 1e-3
    assert strong_inputs.factors.mean() < weak_inputs.factors.mean()


def test_lstm_cell_path_is_the_product_of_forget_gates():
    flow = gradient_flow("LSTM", 1.0, steps=30, hidden=6, forget_bias=3.0, seed=1)
    ratio = flow.cell_path[1:] / flow.cell_path[0]
    assert np.all(np.diff(flow.cell_path) < 0)
    # With all gates in (0, 1) the path shrinks no faster than the smallest gate product and no
    # slower than the largest.
    smallest = np.cumprod(flow.factors[::-1].min(axis=1))
    largest = np.cumprod(flow.factors[::-1].max(axis=1))
    assert np.all(ratio >= smallest * (1 - 1e-12))
    assert np.all(ratio <= largest * (1 + 1e-12))
    assert 0.9 < flow.factors.mean() < 0.99


def test_forget_bias_keeps_the_lstm_gradient_alive():
    closed = gradient_flow("LSTM", 1.0, forget_bias=0.0)
    opened = gradient_flow("LSTM", 1.0, forget_bias=5.0)
    assert closed.norms[-1] < 1e-10
    assert opened.norms[-1] > 1e-2
    assert opened.cell_path[-1] / opened.cell_path[0] > 0.1


def test_unknown_cell_is_refused():
    with pytest.raises(ValueError, match="GRU"):
        gradient_flow("GRU")


def test_demo_follows_its_controls():
    demo = gradient_flow_demo(steps=40)
    ax_norm = demo.figure.axes[0]
    line = ax_norm.get_lines()[0]
    expected = gradient_flow("tanh RNN", 1.0, 40)
    np.testing.assert_allclose(line.get_ydata(), expected.norms)
    first_image = demo.image.value

    demo.controls["spectral_radius"].value = 0.5
    assert demo.image.value != first_image
    np.testing.assert_allclose(demo.figure.axes[0].get_lines()[0].get_ydata(),
                               gradient_flow("tanh RNN", 0.5, 40).norms)

    demo.controls["cell"].value = "LSTM"
    demo.controls["forget_bias"].value = 3.0
    lines = demo.figure.axes[0].get_lines()
    lstm = gradient_flow("LSTM", 0.5, 40, forget_bias=3.0)
    np.testing.assert_allclose(lines[0].get_ydata(), lstm.norms)
    np.testing.assert_allclose(lines[1].get_ydata(), lstm.cell_path)
    assert "LSTM" in demo.figure.axes[0].get_title()
