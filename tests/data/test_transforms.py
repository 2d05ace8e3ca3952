"""i2dl.data.transforms: each transform does what its name says, seeded, without mutation."""

from __future__ import annotations

import numpy as np
import pytest

from i2dl.data import (
    Compose,
    Normalize,
    RandomBrightness,
    RandomCrop,
    RandomHorizontalFlip,
    ToFloat,
)

pytestmark = pytest.mark.data

RANDOM_TRANSFORMS = [
    RandomHorizontalFlip(0.5),
    RandomCrop(6, padding=2),
    RandomBrightness(0.3),
]
ALL_TRANSFORMS = [*RANDOM_TRANSFORMS, ToFloat(), Normalize(0.5, 0.25)]


@pytest.fixture
def batch():
    return np.random.default_rng(0).random((40, 3, 6, 6))


def rng(seed=0):
    return np.random.default_rng(seed)


def test_flip_with_p_one_mirrors_every_image_and_p_zero_none(batch):
    np.testing.assert_array_equal(RandomHorizontalFlip(1.0)(batch, rng()), batch[..., ::-1])
    np.testing.assert_array_equal(RandomHorizontalFlip(0.0)(batch, rng()), batch)
    np.testing.assert_array_equal(RandomHorizontalFlip(1.0)(batch[0], rng()), batch[0, ..., ::-1])


def test_flip_decides_per_image(batch):
    out = RandomHorizontalFlip(0.5)(batch, rng())
    flipped = np.all(out == batch[..., ::-1], axis=(1, 2, 3))
    kept = np.all(out == batch, axis=(1, 2, 3))
    assert np.all(flipped ^ kept)
    assert 8 <= flipped.sum() <= 32


def test_crop_with_padding_keeps_shape_and_takes_a_window_of_the_padded_image(batch):
    out = RandomCrop(6, padding=2)(batch, rng())
    assert out.shape == batch.shape
    padded = np.pad(batch, ((0, 0), (0, 0), (2, 2), (2, 2)))
    offsets = set()
    for image, source in zip(out, padded, strict=True):
        matches = [
            (top, left)
            for top in range(5)
            for left in range(5)
            if np.array_equal(image, source[:, top : top + 6, left : left + 6])
        ]
        assert matches, "a crop must equal some 6x6 window of the padded image"
        offsets.add(matches[0])
    assert len(offsets) > 5


def test_crop_to_a_smaller_rectangle(batch):
    out = RandomCrop((4, 3))(batch[0], rng())
    assert out.shape == (3, 4, 3)
    assert any(
        np.array_equal(out, batch[0][:, t : t + 4, s : s + 3]) for t in range(3) for s in range(4)
    )


def test_crop_larger_than_padded_image_is_explained(batch):
    with pytest.raises(ValueError, match=r"larger than the padded images \(8, 8\)"):
        RandomCrop(9, padding=1)(batch, rng())


def test_normalize_fitted_to_data_gives_zero_mean_unit_std(batch):
    scale = np.array([2.0, 5.0, 0.5])[:, None, None]
    shift = np.array([1.0, -3.0, 7.0])[:, None, None]
    data = batch * scale + shift
    out = Normalize.from_data(data)(data)
    np.testing.assert_allclose(out.mean(axis=(0, 2, 3)), 0.0, atol=1e-12)
    np.testing.assert_allclose(out.std(axis=(0, 2, 3)), 1.0, rtol=1e-12)


def test_normalize_formula_per_channel_for_one_image(batch):
    image = batch[0]
    out = Normalize(mean=[0.1, 0.2, 0.3], std=[1.0, 2.0, 4.0])(image)
    mean = np.array([0.1, 0.2, 0.3])[:, None, None]
    std = np.array([1.0, 2.0, 4.0])[:, None, None]
    expected = (image - mean) / std
    np.testing.assert_allclose(out, expected, rtol=1e-15)


def test_normalize_rejects_wrong_channel_count_and_bad_std(batch):
    with pytest.raises(ValueError, match="2 means and 2 stds but the images have 3 channels"):
        Normalize([0.0, 0.0], [1.0, 1.0])(batch)
    with pytest.raises(ValueError, match="std must be positive"):
        Normalize(0.0, [1.0, 0.0, 1.0])


def test_brightness_adds_one_bounded_offset_per_image(batch):
    out = RandomBrightness(0.3, clip=None)(batch, rng())
    offsets = (out - batch).reshape(len(batch), -1)
    np.testing.assert_allclose(offsets, offsets[:, :1].repeat(offsets.shape[1], axis=1))
    assert np.all(np.abs(offsets) <= 0.3)
    assert len(np.unique(offsets[:, 0].round(12))) == len(batch)


def test_brightness_clips_to_range(batch):
    out = RandomBrightness(5.0)(batch, rng())
    assert out.min() >= 0.0 and out.max() <= 1.0
    assert np.any(out == 0.0) and np.any(out == 1.0)


def test_to_float_scales_uint8_and_casts_other_types():
    pixels = np.array([[[0, 51, 255]]], dtype=np.uint8)
    out = ToFloat()(pixels)
    assert out.dtype == np.float64
    np.testing.assert_allclose(out, [[[0.0, 0.2, 1.0]]])
    halves = np.array([[[0.5]]], dtype=np.float32)
    assert ToFloat()(halves).dtype == np.float64 and ToFloat()(halves)[0, 0, 0] == 0.5


def test_compose_applies_in_order_and_shares_the_generator(batch):
    uint8 = (batch * 255).astype(np.uint8)
    pipeline = Compose([ToFloat(), RandomHorizontalFlip(1.0), Normalize(0.5, 0.5)])
    np.testing.assert_allclose(pipeline(uint8, rng()), (uint8[..., ::-1] / 255.0 - 0.5) / 0.5)

    augment = Compose([RandomCrop(6, padding=1), RandomHorizontalFlip(), RandomBrightness(0.1)])
    np.testing.assert_array_equal(augment(batch, rng(7)), augment(batch, rng(7)))
    assert not np.array_equal(augment(batch, rng(7)), augment(batch, rng(8)))


@pytest.mark.parametrize("transform", RANDOM_TRANSFORMS, ids=lambda t: type(t).__name__)
def test_random_transforms_are_seeded(transform, batch):
    np.testing.assert_array_equal(transform(batch, rng(1)), transform(batch, rng(1)))
    assert not np.array_equal(transform(batch, rng(1)), transform(batch, rng(2)))


@pytest.mark.parametrize("transform", RANDOM_TRANSFORMS, ids=lambda t: type(t).__name__)
def test_random_transforms_refuse_to_run_without_a_generator(transform, batch):
    with pytest.raises(TypeError, match="needs a generator"):
        transform(batch)


@pytest.mark.parametrize("transform", ALL_TRANSFORMS, ids=lambda t: type(t).__name__)
def test_inputs_are_not_mutated(transform, batch):
    before = batch.copy()
    out = transform(batch, rng())
    out[...] = -1.0
    np.testing.assert_array_equal(batch, before)


@pytest.mark.parametrize("transform", [*RANDOM_TRANSFORMS, Normalize(0.0, 1.0)])
def test_images_must_be_three_or_four_dimensional(transform):
    with pytest.raises(ValueError, match=r"\(C, H, W\).*got an array of shape \(6, 6\)"):
        transform(np.zeros((6, 6)), rng())
