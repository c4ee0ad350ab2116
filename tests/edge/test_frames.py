import cv2
import numpy as np
import pytest

from auroral.edge.frames import FrameError, is_frame, read_frame


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
    [(b"", "empty"), (b"not an image at all", "truncated JPEG"), (None, "vanished")],
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
    import auroral.edge.frames as frames

    path = tmp_path / "big.png"
    cv2.imwrite(str(path), np.zeros((100, 120), np.uint8))
    monkeypatch.setattr(frames, "MAX_PIXELS", 100 * 119)
    with pytest.raises(FrameError, match="120×100 pixels is more than"):
        read_frame(path)
    monkeypatch.setattr(frames, "MAX_PIXELS", 100 * 120)
    assert read_frame(path).shape == (100, 120)
