"""The convolution-geometry demo of lecture 9: its windows and coverage agree with PyTorch."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from i2dl.viz.demos_cnn import conv_geometry_demo

pytestmark = pytest.mark.viz


def windows(demo):
    ax = demo.figure.axes[0]
    found = [p for p in ax.patches if p.get_label().startswith("window")]
    # A window drawn from x = start - 0.45 with width F - 0.1 covers inputs start .. start + F - 1.
    return [(round(p.get_x() + 0.45), round(p.get_width() + 0.1)) for p in found]


def coverage(demo):
    (bars,) = demo.figure.axes[1].containers
    return np.array([bar.get_height() for bar in bars])


def expected(length, kernel_size, stride, padding):
    """Window starts (input coordinates) and per-position read counts, from PyTorch."""
    n_out = F.conv1d(torch.zeros(1, 1, length), torch.zeros(1, 1, kernel_size), stride=stride,
                     padding=padding).shape[-1] if length + 2 * padding >= kernel_size else 0
    starts = [i * stride - padding for i in range(n_out)]
    counts = np.zeros(length + 2 * padding)
    if n_out:
        # A transposed convolution of ones with a ones kernel counts the windows at each position.
        spread = F.conv_transpose1d(torch.ones(1, 1, n_out), torch.ones(1, 1, kernel_size),
                                    stride=stride)[0, 0].numpy()
        counts[: spread.size] = spread
    return starts, counts


def test_default_is_the_worked_example_of_the_lecture():
    demo = conv_geometry_demo()
    assert windows(demo) == [(0, 3), (2, 3), (4, 3)]
    np.testing.assert_array_equal(coverage(demo), [1, 1, 2, 1, 2, 1, 1])
    assert "= 3 outputs" in demo.figure.axes[0].get_title()


@pytest.mark.parametrize(
    "length, kernel_size, stride, padding",
    [(7, 3, 2, 0), (8, 3, 2, 0), (16, 5, 3, 1), (10, 1, 4, 0), (5, 7, 1, 1), (3, 7, 1, 3),
     (12, 2, 2, 2), (9, 4, 3, 0)],
)
def test_windows_and_coverage_match_pytorch(length, kernel_size, stride, padding):
    demo = conv_geometry_demo(length, kernel_size, stride, padding)
    starts, counts = expected(length, kernel_size, stride, padding)
    assert windows(demo) == [(start, kernel_size) for start in starts]
    np.testing.assert_array_equal(coverage(demo), counts)
    title = demo.figure.axes[0].get_title()
    if starts:
        assert f"= {len(starts)} outputs" in title
    else:
        assert "no output" in title


def test_title_names_the_positions_the_floor_drops_and_the_pixels_never_read():
    demo = conv_geometry_demo(8, 3, 2, 0)  # (8 - 3) / 2 = 2.5: the last pixel is left over
    title = demo.figure.axes[0].get_title()
    assert "drops the last 1 position" in title
    assert "1 input pixel(s) never read" in title
    demo = conv_geometry_demo(10, 1, 4, 0)  # stride > kernel: pixels between windows are skipped
    assert "7 input pixel(s) never read" in demo.figure.axes[0].get_title()


def test_moving_each_control_redraws_the_figure():
    demo = conv_geometry_demo()
    for name, value in [("length", 9), ("kernel_size", 5), ("stride", 1), ("padding", 2)]:
        before = bytes(demo.image.value)
        demo.controls[name].value = value
        assert bytes(demo.image.value) != before, f"moving {name} did not change the figure"
    starts, counts = expected(9, 5, 1, 2)
    assert windows(demo) == [(start, 5) for start in starts]
    np.testing.assert_array_equal(coverage(demo), counts)
