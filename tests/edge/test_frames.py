import cv2
import numpy as np
import pytest

import auroral.edge.frames as frames
from auroral.edge.frames import FrameError, is_frame, read_frame, unreadable_patterns


@pytest.fixture
def colour_image():
    image = np.zeros((64, 80, 3), np.uint8)
    image[:, :, 0] = 200  # red in RGB
    image[:, :, 1] = 50
    return image


def test_png_round_trip_is_rgb(tmp_path, colour_image):
    path = tmp_path / "f.png"
    cv2.imwrite(str(path), cv2.cvtColor(colour_image, cv2.COLOR_RGB2BGR))
    np.testing.assert_array_equal(read_frame(path), colour_image)


def test_sixteen_bit_mono_png_keeps_depth(tmp_path):
    image = (np.arange(64 * 64, dtype=np.uint16).reshape(64, 64) * 13)
    path = tmp_path / "m.png"
    cv2.imwrite(str(path), image)
    out = read_frame(path)
    assert out.dtype == np.uint16 and out.shape == (64, 64)
    np.testing.assert_array_equal(out, image)


def test_reduced_jpeg_decode_keeps_at_least_min_side(tmp_path, colour_image):
    big = cv2.resize(colour_image, (800, 640))
    path = tmp_path / "big.jpg"
    cv2.imwrite(str(path), cv2.cvtColor(big, cv2.COLOR_RGB2BGR))
    assert read_frame(path).shape[:2] == (640, 800)
    reduced = read_frame(path, min_side=150)
    assert reduced.shape[:2] == (160, 200)  # 1/4 scale: the largest reduction that keeps ≥150 px
    assert abs(int(reduced[80, 100, 0]) - 200) < 8


@pytest.mark.parametrize(
    "content, reason",
    [(b"", "empty"), (b"not an image at all", "not an image"), (b"\xff\xd8", "truncated"), (None, "vanished")],
)
def test_bad_files_raise_frame_error(tmp_path, content, reason):
    path = tmp_path / "bad.jpg"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(FrameError, match=reason):
        read_frame(path)


def test_truncated_jpeg_is_detected(tmp_path, colour_image):
    path = tmp_path / "cut.jpg"
    cv2.imwrite(str(path), colour_image)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(FrameError, match="truncated"):
        read_frame(path)


def test_fits_frames_are_read(tmp_path):
    from astropy.io import fits

    data = np.arange(32 * 32, dtype=np.uint16).reshape(32, 32)
    path = tmp_path / "frame.fits"
    fits.PrimaryHDU(data).writeto(path)
    np.testing.assert_array_equal(read_frame(path), data)


def test_is_frame_ignores_hidden_and_other_suffixes(tmp_path):
    assert is_frame(tmp_path / "a.JPG") and is_frame(tmp_path / "b.fits")
    assert not is_frame(tmp_path / ".a.jpg") and not is_frame(tmp_path / "a.txt")


def test_frames_over_the_pixel_limit_are_refused_before_decoding(tmp_path, monkeypatch):
    path = tmp_path / "big.png"
    cv2.imwrite(str(path), np.zeros((100, 120), np.uint8))
    monkeypatch.setattr(frames, "MAX_PIXELS", 100 * 119)
    with pytest.raises(FrameError, match="120×100 pixels is more than"):
        read_frame(path)
    monkeypatch.setattr(frames, "MAX_PIXELS", 100 * 120)
    assert read_frame(path).shape == (100, 120)


def _jpeg_bytes(image: np.ndarray, thumbnail: bool = False) -> bytes:
    data = cv2.imencode(".jpg", image)[1].tobytes()
    if not thumbnail:
        return data
    small = cv2.imencode(".jpg", image[::8, ::8])[1].tobytes()  # an APP1 segment holding a whole JPEG, as EXIF does
    app1 = b"\xff\xe1" + (len(small) + 8).to_bytes(2, "big") + b"Exif\x00\x00" + small
    return data[:2] + app1 + data[2:]


def test_jpeg_with_bytes_after_its_end_marker_is_decoded(tmp_path, colour_image):
    path = tmp_path / "trailing.jpg"
    path.write_bytes(_jpeg_bytes(colour_image) + b"camera metadata after EOI")
    assert read_frame(path).shape == colour_image.shape


def test_truncated_jpeg_with_a_complete_thumbnail_inside_is_still_truncated(tmp_path, colour_image):
    data = _jpeg_bytes(colour_image, thumbnail=True)
    path = tmp_path / "cut.jpg"
    path.write_bytes(data)
    assert read_frame(path).shape == colour_image.shape
    path.write_bytes(data[: len(data) - 40])
    with pytest.raises(FrameError, match="truncated JPEG"):
        read_frame(path)


def test_content_decides_the_format_not_the_suffix(tmp_path, colour_image):
    path = tmp_path / "really_a_png.jpg"
    path.write_bytes(cv2.imencode(".png", colour_image)[1].tobytes())
    assert read_frame(path).shape == colour_image.shape
    path.write_bytes(cv2.imencode(".bmp", colour_image)[1].tobytes())
    with pytest.raises(FrameError, match="not an image"):
        read_frame(path)


def test_png_with_bytes_after_iend_is_decoded(tmp_path, colour_image):
    path = tmp_path / "trailing.png"
    path.write_bytes(cv2.imencode(".png", colour_image)[1].tobytes() + b"x" * 40)
    assert read_frame(path).shape == colour_image.shape


@pytest.mark.parametrize("channels, shape", [(1, (20, 30)), (2, (20, 30, 3)), (4, (20, 30, 3))])
def test_png_channels_become_mono_or_rgb(tmp_path, channels, shape):
    image = np.zeros((20, 30, channels), np.uint16)
    image[..., 0] = 1000  # blue in OpenCV's order, or grey
    if channels == 2:  # OpenCV writes no grey + alpha PNG; it reads one as BGRA
        from PIL import Image

        Image.fromarray(np.dstack([np.full((20, 30), 100, np.uint8)] * 2), "LA").save(tmp_path / "f.png")
    else:
        cv2.imwrite(str(tmp_path / "f.png"), image)
    out = read_frame(tmp_path / "f.png")
    assert out.shape == shape
    if channels == 4:
        assert out[0, 0, 2] == 1000 and out[0, 0, 0] == 0  # alpha dropped, BGR turned into RGB


@pytest.mark.parametrize("shape", [(100, 1), (1, 100), (7, 50)])
def test_frames_too_small_to_be_sky_images_are_refused(tmp_path, shape):
    cv2.imwrite(str(tmp_path / "thin.png"), np.zeros(shape, np.uint8))
    with pytest.raises(FrameError, match="too small"):
        read_frame(tmp_path / "thin.png")


@pytest.mark.parametrize("shape, expected", [
    ((1, 32, 40), (32, 40)), ((1, 1, 32, 40), (32, 40)), ((3, 32, 40), (32, 40, 3)),
    ((2, 32, 40), "neither a mono nor an RGB"), ((4, 32, 40), "neither a mono nor an RGB"),
    ((500,), "neither a mono nor an RGB"), ((32, 1), "too small"),
])
def test_fits_of_any_shape_is_mono_rgb_or_refused(tmp_path, shape, expected):
    from astropy.io import fits

    path = tmp_path / "frame.fits"
    fits.PrimaryHDU(np.ones(shape, np.int16)).writeto(path)
    if isinstance(expected, str):
        with pytest.raises(FrameError, match=expected):
            read_frame(path)
    else:
        out = read_frame(path)
        assert out.shape == expected and out.dtype == np.uint16


def test_float_fits_is_scaled_to_unit_range_whatever_its_values(tmp_path):
    from astropy.io import fits

    data = np.linspace(-1e30, 1e30, 32 * 32).reshape(32, 32)
    data[0, :4] = [np.nan, np.inf, -np.inf, 3.0e300]
    fits.PrimaryHDU(data).writeto(tmp_path / "f.fits")
    out = read_frame(tmp_path / "f.fits")
    assert out.dtype == np.float32 and np.isfinite(out).all() and out.min() >= 0 and out.max() <= 1
    fits.PrimaryHDU(np.full((32, 32), np.nan, np.float32)).writeto(tmp_path / "nan.fits")
    with pytest.raises(FrameError, match="no finite"):
        read_frame(tmp_path / "nan.fits")


def test_a_fits_image_in_an_extension_is_found(tmp_path):
    from astropy.io import fits

    data = np.arange(32 * 32, dtype=np.uint8).reshape(32, 32)
    fits.HDUList([fits.PrimaryHDU(), fits.ImageHDU(data)]).writeto(tmp_path / "ext.fits")
    np.testing.assert_array_equal(read_frame(tmp_path / "ext.fits"), data)


def test_decoded_memory_is_capped_from_the_header(tmp_path, monkeypatch):
    cv2.imwrite(str(tmp_path / "deep.png"), np.zeros((100, 100, 3), np.uint16))
    monkeypatch.setattr(frames, "MAX_DECODED_BYTES", 100 * 100 * 3 * 2 - 1)
    with pytest.raises(FrameError, match="bytes decoded, more than"):
        read_frame(tmp_path / "deep.png")
    monkeypatch.setattr(frames, "MAX_DECODED_BYTES", 100 * 100 * 3 * 2)
    assert read_frame(tmp_path / "deep.png").shape == (100, 100, 3)


def test_reduced_jpeg_decode_counts_reduced_memory(tmp_path, colour_image, monkeypatch):
    cv2.imwrite(str(tmp_path / "big.jpg"), cv2.resize(colour_image, (800, 640)))
    monkeypatch.setattr(frames, "MAX_DECODED_BYTES", 200 * 160 * 3)  # the 1/4 decode
    assert read_frame(tmp_path / "big.jpg", min_side=150).shape == (160, 200, 3)
    with pytest.raises(FrameError, match="bytes decoded"):
        read_frame(tmp_path / "big.jpg")


def test_unreadable_patterns_name_fits_patterns_without_astropy(monkeypatch):
    patterns = ["*.jpg", "*.FITS", "KIR_*.fit", "*.f*", "*", "*.png"]
    assert unreadable_patterns(patterns) == []  # astropy is part of the dev install
    monkeypatch.setattr(frames, "_fits_available", lambda: False)
    assert unreadable_patterns(patterns) == ["*.FITS", "KIR_*.fit", "*.f*"]


def test_missing_astropy_is_a_frame_error(tmp_path, monkeypatch):
    import sys

    (tmp_path / "f.fits").write_bytes(b"SIMPLE  =                    T" + b" " * 2850)
    monkeypatch.setitem(sys.modules, "astropy.io", None)
    with pytest.raises(FrameError, match="need astropy"):
        read_frame(tmp_path / "f.fits")


def test_truncated_fits_is_refused(tmp_path):
    from astropy.io import fits

    fits.PrimaryHDU(np.ones((64, 64), np.int16)).writeto(tmp_path / "f.fits")
    data = (tmp_path / "f.fits").read_bytes()
    (tmp_path / "f.fits").write_bytes(data[:4000])
    with pytest.raises(FrameError, match="truncated FITS"):
        read_frame(tmp_path / "f.fits")
