"""i2dl.viz.demos_architectures: cost counts and upsampling against PyTorch, and the two demos."""

import re

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from i2dl.layers import max_pool_forward
from i2dl.viz.demos_architectures import (
    block_cost_demo,
    conv_cost,
    conv_transpose2d_single,
    max_unpool,
    path_counts,
    receptive_field,
    separable_cost,
    upsample_bilinear,
    upsample_nearest,
    upsampling_demo,
    zero_insert,
)

pytestmark = pytest.mark.viz

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def torch_cost(module: nn.Module, in_channels: int, height: int, width: int) -> tuple[int, int]:
    """Parameters and MACs (FLOPs / 2) of ``module`` as PyTorch counts them."""
    with FlopCounterMode(display=False) as counter:
        module(torch.zeros(1, in_channels, height, width))
    return sum(p.numel() for p in module.parameters()), counter.get_total_flops() // 2


@pytest.mark.parametrize(
    "c_in, c_out, kernel, groups, bias",
    [(3, 8, 3, 1, True), (16, 32, 5, 4, False), (12, 12, 3, 12, False), (8, 4, (1, 5), 2, True)],
)
def test_conv_cost_matches_pytorch(c_in, c_out, kernel, groups, bias):
    conv = nn.Conv2d(c_in, c_out, kernel, groups=groups, bias=bias, padding="same")
    assert conv_cost(c_in, c_out, kernel, 7, 9, groups, bias) == torch_cost(conv, c_in, 7, 9)


def test_conv_cost_rejects_groups_that_do_not_divide_the_channels():
    with pytest.raises(ValueError, match="must divide"):
        conv_cost(6, 8, 3, 4, 4, groups=4)


@pytest.mark.parametrize("c_in, c_out, k", [(8, 16, 3), (32, 32, 5), (4, 64, 7)])
def test_separable_cost_matches_pytorch_and_the_ratio_formula(c_in, c_out, k):
    separable = nn.Sequential(
        nn.Conv2d(c_in, c_in, k, padding="same", groups=c_in, bias=False),
        nn.Conv2d(c_in, c_out, 1, bias=False),
    )
    params, macs = separable_cost(c_in, c_out, k, 6, 5)
    assert (params, macs) == torch_cost(separable, c_in, 6, 5)
    standard = conv_cost(c_in, c_out, k, 6, 5)
    assert params / standard[0] == pytest.approx(1 / c_out + 1 / k**2, rel=1e-12)
    assert macs / standard[1] == pytest.approx(1 / c_out + 1 / k**2, rel=1e-12)


def autograd_field(layers: nn.Sequential, size: int = 41) -> int:
    """Height of the input region on which the centre output pixel of ``layers`` depends."""
    x = torch.randn(1, 1, size, size, dtype=torch.float64, requires_grad=True)
    out = layers.double()(x)
    out[0, 0, out.shape[2] // 2, out.shape[3] // 2].backward()
    rows = torch.nonzero(x.grad[0, 0].abs().sum(dim=1)).flatten()
    return int(rows.max() - rows.min() + 1)


@pytest.mark.parametrize(
    "kernels, strides",
    [([3, 3], [1, 1]), ([5], [1]), ([3, 2, 3], [1, 2, 1]), ([7, 3, 3, 3], [2, 2, 1, 2])],
)
def test_receptive_field_matches_the_gradient_footprint(kernels, strides):
    torch.manual_seed(0)
    layers = nn.Sequential(*[nn.Conv2d(1, 1, k, stride=s) for k, s in zip(kernels, strides,
                                                                          strict=True)])
    assert receptive_field(kernels, strides) == autograd_field(layers)


def test_receptive_field_needs_one_stride_per_kernel():
    with pytest.raises(ValueError, match="one each"):
        receptive_field([3, 3], [1])


@pytest.mark.parametrize("depth, kernel", [(1, 3), (2, 3), (3, 5), (4, 1)])
def test_path_counts_are_the_gradient_of_a_stack_of_all_ones_convolutions(depth, kernel):
    layers = nn.Sequential(*[nn.Conv2d(1, 1, kernel, bias=False) for _ in range(depth)]).double()
    with torch.no_grad():
        for conv in layers:
            conv.weight.fill_(1.0)
    field = depth * (kernel - 1) + 1
    x = torch.zeros(1, 1, field, field, dtype=torch.float64, requires_grad=True)
    layers(x)[0, 0, 0, 0].backward()  # the output is 1 x 1
    counts = path_counts(depth, kernel)
    np.testing.assert_array_equal(counts, x.grad[0, 0].numpy())
    assert counts.sum() == kernel ** (2 * depth)


images = st.tuples(st.integers(1, 6), st.integers(1, 6), st.integers(1, 4), st.integers(0, 99))


@settings(max_examples=30, deadline=None)
@given(images)
def test_interpolation_matches_f_interpolate(case):
    height, width, factor, seed = case
    x = np.random.default_rng(seed).random((2, 3, height, width))
    t = torch.as_tensor(x)
    expected_nearest = F.interpolate(t, scale_factor=factor, mode="nearest").numpy()
    expected_bilinear = F.interpolate(
        t, scale_factor=factor, mode="bilinear", align_corners=False
    ).numpy()
    np.testing.assert_array_equal(upsample_nearest(x, factor), expected_nearest)
    np.testing.assert_allclose(upsample_bilinear(x, factor), expected_bilinear, atol=1e-12)


def test_zero_insert_places_each_pixel_at_the_corner_of_its_block():
    x = np.arange(6.0).reshape(2, 3)
    out = zero_insert(x, 2)
    assert out.shape == (4, 6)
    np.testing.assert_array_equal(out[::2, ::2], x)
    assert np.count_nonzero(out) == 5  # the 0 stays 0


@settings(max_examples=20, deadline=None)
@given(st.integers(1, 3), st.integers(2, 3), st.integers(0, 99))
def test_max_unpool_matches_f_max_unpool2d(blocks, kernel, seed):
    x = np.random.default_rng(seed).random((2, 3, blocks * kernel, blocks * kernel + kernel))
    pooled, cache = max_pool_forward(x, kernel, kernel)
    t_pooled, indices = F.max_pool2d(torch.as_tensor(x), kernel, return_indices=True)
    expected = F.max_unpool2d(t_pooled, indices, kernel, output_size=x.shape[2:]).numpy()
    np.testing.assert_array_equal(max_unpool(pooled, cache), expected)


@settings(max_examples=20, deadline=None)
@given(st.integers(1, 5), st.integers(1, 5), st.integers(1, 4), st.integers(1, 3),
       st.integers(0, 99))
def test_conv_transpose2d_single_matches_pytorch(height, width, kernel, stride, seed):
    rng = np.random.default_rng(seed)
    x, w = rng.random((height, width)), rng.random((kernel, kernel + 1))
    expected = F.conv_transpose2d(
        torch.as_tensor(x)[None, None], torch.as_tensor(w)[None, None], stride=stride
    )[0, 0].numpy()
    np.testing.assert_allclose(conv_transpose2d_single(x, w, stride), expected, atol=1e-12)


# --- the demos ----------------------------------------------------------------------------------


def cost_labels(demo) -> dict[str, int]:
    """Parameters per bar of ``block_cost_demo``, read from the bar chart."""
    ax = demo.figure.axes[1]
    labels = [tick.get_text() for tick in ax.get_yticklabels()]
    return {label: round(bar.get_width()) for label, bar in zip(labels, ax.patches, strict=True)}


def test_block_cost_demo_shows_the_costs_of_its_settings():
    demo = block_cost_demo()
    assert bytes(demo.image.value).startswith(PNG_SIGNATURE)
    assert list(demo.children) == [*demo.controls.values(), demo.image]
    # Defaults: k = 3, 2 layers, C = 64, 4 groups, 56 x 56.
    assert cost_labels(demo) == {
        "one 5x5 conv": 25 * 64**2,
        "2 x (3x3 conv)": 2 * 9 * 64**2,
        "2 x (3x3 conv, 4 groups)": 2 * 9 * 64**2 // 4,
        "2 x (3x3 depthwise + 1x1)": 2 * (9 * 64 + 64**2),
    }
    texts = [text.get_text() for text in demo.figure.axes[1].texts]
    assert f"{25 * 64**2 * 56**2 / 1e6:,.1f} M MACs" in texts[0]
    assert "0.127" in demo.figure.axes[1].get_title()
    assert "receptive field 5 x 5" in demo.figure.axes[0].get_title()


def test_block_cost_demo_redraws_when_a_control_moves():
    demo = block_cost_demo()
    first_png = bytes(demo.image.value)
    demo.controls["depth"].value = 3
    assert "receptive field 7 x 7" in demo.figure.axes[0].get_title()
    assert cost_labels(demo)["one 7x7 conv"] == 49 * 64**2
    assert bytes(demo.image.value) != first_png
    demo.controls["groups"].value = "C (depthwise)"
    assert cost_labels(demo)["3 x (3x3 conv, 64 groups)"] == 3 * 9 * 64
    demo.controls["channels"].value = "8"
    demo.controls["groups"].value = "16"  # more groups than channels: clipped to 8
    assert cost_labels(demo)["3 x (3x3 conv, 8 groups)"] == 3 * 9 * 8
    macs_before = demo.figure.axes[1].texts[1].get_text()
    demo.controls["resolution"].value = 112
    assert demo.figure.axes[1].texts[1].get_text() != macs_before
    assert cost_labels(demo)["3 x (3x3 conv)"] == 3 * 9 * 8**2  # parameters do not change


def mean_error(demo) -> float:
    return float(re.search(r"mean ([0-9.]+)", demo.figure.axes[3].get_title()).group(1))


def test_upsampling_demo_shows_each_method_and_its_error():
    demo = upsampling_demo()
    assert bytes(demo.image.value).startswith(PNG_SIGNATURE)
    errors = {}
    for method in demo.controls["method"].options:
        demo.controls["method"].value = method
        assert method in demo.figure.axes[2].get_title()
        assert demo.figure.axes[2].images[0].get_array().shape == (64, 64)
        errors[method] = mean_error(demo)
    # Zero insertion and unpooling leave three of four pixels black; interpolation does not.
    assert max(errors["nearest"], errors["bilinear"]) < min(
        errors["zero insertion"], errors["max-unpooling (switches)"]
    )
    demo.controls["method"].value = "nearest"
    demo.controls["factor"].value = "4"
    assert demo.figure.axes[1].images[0].get_array().shape == (16, 16)
    assert mean_error(demo) > errors["nearest"]


def test_upsampling_demo_shows_the_image_it_is_given_and_rejects_bad_sizes():
    image = np.random.default_rng(0).random((24, 32))
    demo = upsampling_demo(image)
    np.testing.assert_array_equal(demo.figure.axes[0].images[0].get_array(), image)
    with pytest.raises(ValueError, match="divisible by 4"):
        upsampling_demo(np.zeros((30, 32)))
