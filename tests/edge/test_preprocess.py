import numpy as np
import pytest

from auroral.edge.preprocess import IMAGENET_MEAN, IMAGENET_STD, Preprocessor, PreprocessSpec


def test_output_shape_dtype_and_normalisation():
    spec = PreprocessSpec(size=32, mask=False)
    image = np.full((100, 100, 3), 255, np.uint8)
    out = Preprocessor(spec)(image)
    assert out.shape == (3, 32, 32) and out.dtype == np.float32
    expected = (1.0 - np.array(IMAGENET_MEAN)) / np.array(IMAGENET_STD)
    np.testing.assert_allclose(out[:, 16, 16], expected, rtol=1e-5)


def test_mask_zeroes_corners_and_keeps_centre():
    spec = PreprocessSpec(size=32)
    out = Preprocessor(spec)(np.full((64, 64, 3), 200, np.uint8))
    assert np.all(out[:, 0, 0] == 0) and np.all(out[:, -1, -1] == 0)
    assert np.all(out[:, 16, 16] != 0)


def test_sixteen_bit_and_eight_bit_agree():
    spec = PreprocessSpec(size=16)
    rng = np.random.default_rng(1)
    eight = rng.integers(0, 256, (48, 48, 3), dtype=np.uint8)
    sixteen = eight.astype(np.uint16) * 257
    # 8-bit resizing rounds each averaged pixel to an integer: at most half a grey level apart
    half_level = 0.5 / 255 / min(spec.std)
    np.testing.assert_allclose(Preprocessor(spec)(eight), Preprocessor(spec)(sixteen), atol=half_level + 1e-6)


def test_mono_is_replicated_to_three_channels():
    spec = PreprocessSpec(size=16)
    mono = np.random.default_rng(2).integers(0, 256, (40, 40), dtype=np.uint8)
    out = Preprocessor(spec)(mono)
    colour = Preprocessor(spec)(np.repeat(mono[:, :, None], 3, axis=2))
    np.testing.assert_allclose(out, colour)


def test_crop_is_square_around_off_centre_circle():
    spec = PreprocessSpec(size=16, fov_center=(0.25, 0.5), fov_radius=0.25)
    assert spec.crop_box(100, 200) == (25, 75, 25, 75)


def test_batch_matches_single_frames():
    spec = PreprocessSpec(size=16)
    pre = Preprocessor(spec)
    rng = np.random.default_rng(3)
    images = [rng.integers(0, 256, (30, 40, 3), dtype=np.uint8) for _ in range(3)]
    batch = pre.batch(images)
    for i, image in enumerate(images):
        np.testing.assert_array_equal(batch[i], pre(image))


def test_rejects_wrong_shape_and_unknown_spec_keys():
    with pytest.raises(ValueError, match="expected an H×W"):
        Preprocessor(PreprocessSpec(size=16))(np.zeros((10, 10, 4), np.uint8))
    with pytest.raises(ValueError):
        PreprocessSpec(size=16, colour="BGR")


def test_min_source_side_covers_model_input():
    assert PreprocessSpec(size=224, fov_radius=0.5).min_source_side() == 224
    assert PreprocessSpec(size=100, fov_radius=0.25).min_source_side() == 200


@pytest.mark.parametrize("shape", [(1, 100), (100, 1), (1, 1), (3, 5, 3)])
def test_tiny_frames_crop_to_at_least_one_pixel(shape):
    out = Preprocessor(PreprocessSpec(size=16))(np.full(shape, 255, np.uint8))
    assert out.shape == (3, 16, 16) and np.isfinite(out).all()


def test_crop_of_a_field_of_view_outside_the_frame_is_not_empty():
    top, bottom, left, right = PreprocessSpec(size=16, fov_center=(3.0, -2.0), fov_radius=0.1).crop_box(50, 60)
    assert bottom > top and right > left


def test_rejects_sample_types_it_cannot_scale():
    with pytest.raises(ValueError, match="expected uint8, uint16 or float32"):
        Preprocessor(PreprocessSpec(size=16))(np.zeros((10, 10), np.bool_))
