"""i2dl.viz widget demos, headless: every control redraws the figure with the right data."""

import base64

import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from i2dl.optim import Adam
from i2dl.viz import (
    InteractiveFigure,
    activation_demo,
    conv_filter_demo,
    correlate2d,
    dropout_demo,
    gradient_descent_demo,
    init_scale_demo,
    optimizer_race_demo,
)
from i2dl.viz.interactive import float_slider, log_slider

pytestmark = pytest.mark.viz

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def line(ax, label):
    (found,) = [line for line in ax.lines if line.get_label().startswith(label)]
    return found


# --- InteractiveFigure ------------------------------------------------------------------------


def test_interactive_figure_redraws_on_change_without_opening_pyplot_figures():
    def draw(fig, scale):
        fig.subplots().plot([0, 1], [0, scale])

    demo = InteractiveFigure(draw, {"scale": float_slider("scale", 1.0, 0.0, 2.0)})
    first_png = bytes(demo.image.value)
    assert first_png.startswith(PNG_SIGNATURE)
    for scale in (0.5, 1.5, 2.0):
        demo.children[0].value = scale
    assert demo.figure.axes[0].lines[0].get_ydata()[1] == pytest.approx(2.0)
    assert len(demo.figure.axes) == 1
    assert bytes(demo.image.value) != first_png
    assert plt.get_fignums() == []


def test_interactive_figure_falls_back_to_its_png_where_widgets_do_not_render():
    demo = InteractiveFigure(lambda fig, a: fig.subplots(), {"a": float_slider("a", 0, 0, 1)})
    bundle = demo._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert base64.b64decode(bundle["image/png"]) == bytes(demo.image.value)


def test_log_slider_rejects_a_bad_range():
    with pytest.raises(ValueError, match="0 < low < high"):
        log_slider("lr", 0.1, 0.0, 1.0)
    with pytest.raises(ValueError, match="outside the slider's range"):
        log_slider("lr", 2.0, 0.01, 1.0)


ALL_DEMOS = [
    gradient_descent_demo, activation_demo, optimizer_race_demo,
    init_scale_demo, conv_filter_demo, dropout_demo,
]


@pytest.mark.parametrize("make_demo", ALL_DEMOS, ids=lambda make: make.__name__)
def test_every_demo_is_a_widget_of_controls_above_a_rendered_figure(make_demo):
    demo = make_demo()
    assert isinstance(demo, widgets.VBox)
    assert list(demo.children) == [*demo.controls.values(), demo.image]
    assert bytes(demo.image.value).startswith(PNG_SIGNATURE)
    assert demo.figure.axes
    assert plt.get_fignums() == []


# --- gradient_descent_demo --------------------------------------------------------------------


def test_gradient_descent_iterates_follow_the_closed_form_on_the_bowl():
    demo = gradient_descent_demo()
    lr_slider, steps_slider = demo.children[:2]
    lr_slider.value, steps_slider.value = 0.15, 12
    path = line(demo.figure.axes[0], "iterates").get_xydata()
    # On f = (x1^2 + 10 x2^2) / 2 each step multiplies coordinate i by (1 - lr * c_i).
    factors = (1 - 0.15 * np.array([1.0, 10.0])) ** np.arange(13)[:, None]
    np.testing.assert_allclose(path, np.array([-4.0, 1.5]) * factors, rtol=1e-12)
    assert "diverged" not in demo.figure.axes[0].get_title()


def test_gradient_descent_with_too_large_a_step_diverges():
    demo = gradient_descent_demo(lr=0.3)
    assert demo.figure.axes[0].get_title().endswith("diverged")
    assert len(line(demo.figure.axes[0], "iterates").get_xdata()) < demo.controls["steps"].value


def test_gradient_descent_on_a_1d_function_without_gradient_reaches_its_minimum():
    demo = gradient_descent_demo(f=lambda x: float((x[0] - 1.0) ** 2), x0=[-2.0], lr=0.2)
    xs, losses = line(demo.figure.axes[0], "iterates").get_data()
    assert xs[0] == -2.0 and xs[-1] == pytest.approx(1.0, abs=1e-4)
    np.testing.assert_allclose(losses, (xs - 1.0) ** 2)


def test_gradient_descent_rejects_bad_arguments():
    with pytest.raises(ValueError, match="grad was given without f"):
        gradient_descent_demo(grad=lambda x: x)
    with pytest.raises(ValueError, match=r"x0 must have shape \(1,\) or \(2,\)"):
        gradient_descent_demo(x0=[1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="grad\\(x0\\) must have the shape of x0"):
        gradient_descent_demo(f=lambda x: float(x @ x), grad=lambda x: np.zeros(3), x0=[1, 2])


# --- activation_demo --------------------------------------------------------------------------

TORCH_ACTIVATIONS = {
    "sigmoid": torch.sigmoid,
    "tanh": torch.tanh,
    "ReLU": torch.relu,
    "leaky ReLU": lambda x: torch.nn.functional.leaky_relu(x, 0.23),
    "ELU": torch.nn.functional.elu,
    "SiLU (swish)": torch.nn.functional.silu,
    "softplus": torch.nn.functional.softplus,
}


def test_activation_demo_plots_each_function_and_derivative_as_pytorch():
    demo = activation_demo()
    dropdown, slope = demo.children[:2]
    slope.value = 0.23
    assert set(dropdown.options) == set(TORCH_ACTIVATIONS)
    for name, torch_fn in TORCH_ACTIVATIONS.items():
        dropdown.value = name
        ax = demo.figure.axes[0]
        x = torch.tensor(line(ax, "f(x)").get_xdata(), dtype=torch.float64, requires_grad=True)
        y = torch_fn(x)
        (dy,) = torch.autograd.grad(y.sum(), x)
        np.testing.assert_allclose(line(ax, "f(x)").get_ydata(), y.detach(), atol=1e-12)
        np.testing.assert_allclose(line(ax, "f'(x)").get_ydata(), dy, atol=1e-12)
        assert slope.disabled == (name != "leaky ReLU")


# --- optimizer_race_demo ----------------------------------------------------------------------


def paths(demo):
    return {line.get_label(): line.get_xydata() for line in demo.figure.axes[0].lines[:-1]}


def test_optimizer_race_runs_the_i2dl_optimisers_from_one_start():
    demo = optimizer_race_demo()
    race = paths(demo)
    assert list(race) == ["SGD", "momentum", "Nesterov", "Adagrad", "RMSprop", "Adam"]
    steps = demo.controls["steps"].value
    assert all(path.shape == (steps + 1, 2) for path in race.values())
    # Replay Adam by hand on the rotated quadratic bowl.
    start = race["Adam"][0]
    assert all(np.array_equal(path[0], start) for path in race.values())
    angle = np.deg2rad(30)
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    hessian = rotation @ np.diag([0.2, 10.0]) @ rotation.T
    adam, params = Adam(lr=demo.controls["lr_Adam"].value), {"p": start.copy()}
    for point in race["Adam"][1:]:
        adam.step(params, {"p": hessian @ params["p"]})
        np.testing.assert_allclose(point, params["p"], rtol=1e-12)
    demo.controls["surface"].value = "Rosenbrock"
    assert demo.figure.axes[0].get_title() == "Rosenbrock"
    np.testing.assert_allclose(paths(demo)["Adam"][-1], [1.0, 1.0], atol=1e-2)


def test_changing_one_step_size_changes_only_that_trajectory():
    demo = optimizer_race_demo()
    before = paths(demo)
    demo.controls["lr_Adam"].value = 0.01
    after = paths(demo)
    assert not np.allclose(before["Adam"], after["Adam"])
    for name in ["SGD", "momentum", "Nesterov", "Adagrad", "RMSprop"]:
        np.testing.assert_array_equal(before[name], after[name])
    demo.controls["lr_SGD"].value = 1.0
    assert "SGD (diverged)" in paths(demo)


# --- init_scale_demo --------------------------------------------------------------------------


def layer_stds(demo):
    return demo.figure.axes[-1].lines[0].get_ydata()


def test_init_scale_demo_shows_vanishing_steady_and_exploding_activations():
    demo = init_scale_demo()
    activation, init, layers = demo.children[:3]
    assert activation.value == "tanh"
    layers.value = 3
    assert len(demo.figure.axes) == 3 + 1 and len(layer_stds(demo)) == 3
    init.value = "too small (std 0.01)"
    assert np.all(np.diff(np.log(layer_stds(demo))) < np.log(0.5))
    activation.value = "ReLU"
    init.value = "He/Kaiming"
    he = layer_stds(demo)
    assert 0.5 < he[-1] / he[0] < 2
    init.value = "too large (std 1)"
    assert np.all(np.diff(np.log(layer_stds(demo))) > np.log(5))


# --- conv_filter_demo -------------------------------------------------------------------------


@settings(max_examples=25, deadline=None)
@given(
    image=hnp.arrays(np.float64, hnp.array_shapes(min_dims=2, max_dims=2, min_side=1, max_side=9),
                     elements=st.floats(-10, 10)),
    kernel_half=st.tuples(st.integers(0, 2), st.integers(0, 2)),
    seed=st.integers(0, 100),
)
def test_correlate2d_matches_pytorch_conv2d_with_same_padding(image, kernel_half, seed):
    kh, kw = 2 * kernel_half[0] + 1, 2 * kernel_half[1] + 1
    kernel = np.random.default_rng(seed).normal(size=(kh, kw))
    image_before, kernel_before = image.copy(), kernel.copy()
    expected = torch.nn.functional.conv2d(
        torch.from_numpy(image)[None, None], torch.from_numpy(kernel)[None, None],
        padding=(kernel_half[0], kernel_half[1]),
    )[0, 0]
    np.testing.assert_allclose(correlate2d(image, kernel), expected.numpy(), atol=1e-10)
    np.testing.assert_array_equal(image, image_before)
    np.testing.assert_array_equal(kernel, kernel_before)


def test_correlate2d_rejects_even_kernels():
    with pytest.raises(ValueError, match="odd sides"):
        correlate2d(np.zeros((5, 5)), np.ones((2, 2)))


def test_conv_filter_demo_shows_image_kernel_and_output():
    image = np.random.default_rng(0).random((20, 24))
    demo = conv_filter_demo(image)
    kernel, size = demo.children[:2]
    kernel.value, size.value = "box blur", 3
    ax_image, ax_kernel, ax_output = demo.figure.axes
    np.testing.assert_array_equal(ax_image.images[0].get_array(), image)
    np.testing.assert_allclose(ax_kernel.images[0].get_array(), np.full((3, 3), 1 / 9))
    np.testing.assert_allclose(
        ax_output.images[0].get_array(), correlate2d(image, np.full((3, 3), 1 / 9))
    )
    kernel.value = "Sobel x"
    assert size.disabled
    sobel_x = [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]]
    np.testing.assert_allclose(demo.figure.axes[1].images[0].get_array(), sobel_x)
    np.testing.assert_allclose(
        demo.figure.axes[2].images[0].get_array(), correlate2d(image, sobel_x)
    )


def test_conv_filter_demo_converts_rgb_and_rejects_bad_images():
    rgb = np.random.default_rng(0).random((16, 16, 3))
    grey = conv_filter_demo(rgb).figure.axes[0].images[0].get_array()
    np.testing.assert_allclose(grey, rgb @ [0.299, 0.587, 0.114])
    with pytest.raises(ValueError, match=r"\(H, W\) or \(H, W, 3\)"):
        conv_filter_demo(np.zeros((16, 16, 2)))
    with pytest.raises(ValueError, match="H, W >= 11"):
        conv_filter_demo(np.zeros((8, 30)))


# --- dropout_demo -----------------------------------------------------------------------------


def test_dropout_demo_scales_kept_units_and_keeps_the_mean():
    demo = dropout_demo()
    p_slider, mask_slider = demo.children[:2]
    ax_units, ax_mean = demo.figure.axes
    inputs = np.array([bar.get_height() for bar in ax_units.containers[0]])
    p_slider.value = 0.0
    outputs = np.array([bar.get_height() for bar in demo.figure.axes[0].containers[1]])
    np.testing.assert_allclose(outputs, inputs)
    p_slider.value = 0.75
    ax_units, ax_mean = demo.figure.axes
    outputs = np.array([bar.get_height() for bar in ax_units.containers[1]])
    kept = outputs > 0
    assert 0 < kept.sum() < len(kept)
    np.testing.assert_allclose(outputs[kept], inputs[kept] / 0.25)
    no_dropout, unscaled, inverted = (bar.get_height() for bar in ax_mean.containers[0])
    assert inverted == pytest.approx(no_dropout, rel=0.03)
    assert unscaled == pytest.approx(0.25 * no_dropout, rel=0.03)
    mask_slider.value = 7
    assert not np.array_equal(
        np.array([bar.get_height() for bar in demo.figure.axes[0].containers[1]]) > 0, kept
    )


def test_updating_demos_leaves_no_figure_open():
    demo = activation_demo()
    for name in demo.controls["activation"].options:
        demo.controls["activation"].value = name
    assert plt.get_fignums() == []
    assert len(demo.figure.axes) == 1 and len(demo.figure.axes[0].lines) == 4
