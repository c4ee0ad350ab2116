"""Property: whatever a frame file holds, read_frame returns an array the Preprocessor takes or raises
FrameError, nothing else; FrameLoader.load loads it as a finite model input or fails it with a reason, and
a good frame in the same call still loads."""
import io
import itertools
from pathlib import Path

import cv2
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from PIL import Image

from auroral.edge.framebatch import FrameLoader
from auroral.edge.frames import FrameError, read_frame
from auroral.edge.preprocess import PreprocessSpec

SIZE = 16
LOADER = FrameLoader(PreprocessSpec(size=SIZE))
FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
_names = itertools.count()

shapes = st.tuples(st.integers(1, 40), st.integers(1, 40), st.sampled_from([None, 1, 2, 3, 4]))
dtypes = st.sampled_from([np.uint8, np.uint16, np.int16, np.float32, np.float64, np.bool_])


@st.composite
def images(draw) -> np.ndarray:
    height, width, channels = draw(shapes)
    shape = (height, width) if channels is None else (height, width, channels)
    return draw(arrays(draw(dtypes), shape))


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


@pytest.fixture(scope="module")
def good(folder) -> Path:
    path = folder / "good.png"
    cv2.imwrite(str(path), np.full((40, 40, 3), 90, np.uint8))
    return path


def _raster(image: np.ndarray, fmt: str) -> bytes:
    """``image`` as a PNG or JPEG file, converted only as far as the format requires."""
    if image.dtype not in (np.uint8, np.uint16) or fmt == ".jpg":
        image = (np.nan_to_num(image.astype(np.float64)) % 256).astype(np.uint8)
    if image.ndim == 3 and image.shape[2] == 2:  # grey + alpha: OpenCV does not write it, Pillow does (8-bit)
        buffer = io.BytesIO()
        Image.fromarray(image.astype(np.uint8), "LA").save(buffer, "PNG")
        return buffer.getvalue()
    if image.ndim == 3 and fmt == ".jpg" and image.shape[2] == 4:
        image = image[:, :, :3]
    return cv2.imencode(fmt, image)[1].tobytes()


def _fits(data: np.ndarray) -> bytes:
    from astropy.io import fits

    if data.dtype == np.bool_:
        data = data.astype(np.uint8)
    if data.ndim == 3:  # FITS cubes are plane-first
        data = np.moveaxis(data, -1, 0)
    buffer = io.BytesIO()
    fits.PrimaryHDU(data).writeto(buffer)
    return buffer.getvalue()


def _check(folder: Path, good: Path, content: bytes, suffix: str) -> None:
    path = folder / f"fuzz{next(_names)}{suffix}"
    path.write_bytes(content)
    try:
        image = read_frame(path, min_side=LOADER.min_side)
    except FrameError:
        pass
    else:
        assert np.isfinite(LOADER.preprocessor(image)).all()
    result = LOADER.load([path, good])
    assert 1 in result.loaded, result.failed
    assert result.batch.shape == (len(result.loaded), 3, SIZE, SIZE) and np.isfinite(result.batch).all()
    if 0 in result.loaded:
        assert result.loaded == [0, 1] and result.failed == []
    else:
        assert result.failed[0][0] == 0 and result.failed[0][1] and result.loaded == [1]


@FUZZ
@given(image=images(), fmt=st.sampled_from([".png", ".jpg"]))
def test_any_png_or_jpeg_image(folder, good, image, fmt):
    _check(folder, good, _raster(image, fmt), fmt)


@FUZZ
@given(data=st.one_of(
    images(),
    arrays(st.sampled_from([np.uint8, np.int16, np.int32, np.float32, np.float64]), st.one_of(
        st.tuples(st.integers(1, 300)),  # 1-D
        st.tuples(st.integers(1, 4), st.integers(1, 20), st.integers(1, 20)),  # 1 to 4 planes
        st.tuples(st.just(1), st.just(1), st.integers(1, 20), st.integers(1, 20)))),  # degenerate axes
))
def test_any_fits_array(folder, good, data):
    _check(folder, good, _fits(data), ".fits")


@FUZZ
@given(content=st.binary(max_size=2000), suffix=st.sampled_from([".jpg", ".png", ".fits"]))
def test_random_bytes(folder, good, content, suffix):
    _check(folder, good, content, suffix)


@FUZZ
@given(image=images(), fmt=st.sampled_from([".png", ".jpg", ".fits"]), cut=st.floats(0, 1), tail=st.binary(max_size=64))
def test_cut_or_extended_files(folder, good, image, fmt, cut, tail):
    data = _fits(image) if fmt == ".fits" else _raster(image, fmt)
    _check(folder, good, data[: int(len(data) * cut)] + tail, fmt)


@pytest.mark.parametrize("shape", [(1, 50), (50, 1), (1, 1), (8, 8), (8, 300)])
@pytest.mark.parametrize("fmt", [".png", ".jpg", ".fits"])
def test_odd_but_valid_shapes(folder, good, shape, fmt):
    image = np.full(shape, 200, np.uint8)
    _check(folder, good, _fits(image) if fmt == ".fits" else _raster(image, fmt), fmt)
