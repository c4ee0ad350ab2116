"""Files a watch folder may hold that are not frames at all: each is refused from what the file system or the
header says, without blocking, without reading gigabytes and without decoding, and a good frame in the same
batch still loads."""
import os
import struct
import threading
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest

import auroral.edge.frames as frames
from auroral.edge.framebatch import FrameBatch, FrameLoader
from auroral.edge.preprocess import PreprocessSpec

LOADER = FrameLoader(PreprocessSpec(size=16))


@pytest.fixture
def good(tmp_path) -> Path:
    path = tmp_path / "good.jpg"
    cv2.imwrite(str(path), np.full((40, 40, 3), 120, np.uint8))
    return path


def _load_in_thread(paths: list[Path], unblock: Path | None = None) -> FrameBatch:
    """FrameLoader.load on another thread; the test fails (rather than hangs) if it does not finish."""
    results: list[FrameBatch] = []
    thread = threading.Thread(target=lambda: results.append(LOADER.load(paths)), daemon=True)
    thread.start()
    thread.join(timeout=30)
    finished = not thread.is_alive()
    if not finished and unblock is not None:  # release a reader stuck in open() so no thread is left behind
        os.close(os.open(unblock, os.O_WRONLY | os.O_NONBLOCK))
        thread.join(timeout=30)
    assert finished, "loading blocked"
    return results[0]


def _assert_refused(paths: list[Path], reason: str, unblock: Path | None = None) -> None:
    result = _load_in_thread(paths, unblock)
    assert result.loaded == [1] and result.batch.shape == (1, 3, 16, 16)
    assert len(result.failed) == 1 and result.failed[0][0] == 0
    assert reason in result.failed[0][1], result.failed[0][1]


def test_a_fifo_is_refused_without_blocking(tmp_path, good):
    fifo = tmp_path / "camera.jpg"
    os.mkfifo(fifo)
    _assert_refused([fifo, good], "not a regular file (a FIFO)", unblock=fifo)


def test_a_symlink_to_dev_zero_is_refused_unread(tmp_path, good):
    link = tmp_path / "zero.jpg"
    link.symlink_to("/dev/zero")
    _assert_refused([link, good], "not a regular file (a character device)")


def test_a_directory_named_like_a_frame_is_refused(tmp_path, good):
    (tmp_path / "folder.png").mkdir()
    _assert_refused([tmp_path / "folder.png", good], "not a regular file (a directory)")


def test_a_sparse_6_gib_file_is_refused_by_its_size(tmp_path, good):
    huge = tmp_path / "huge.jpg"
    huge.write_bytes(b"\xff\xd8\xff")
    os.truncate(huge, 6 * 2**30)  # sparse: takes no disk space
    _assert_refused([huge, good], "larger than the 536,870,912 a frame may be")


def _png(width: int, height: int, depth: int, colour: int, channels: int) -> bytes:
    """A valid PNG of zeros, compressed a row at a time so a huge image stays a small file."""
    row = bytes(1 + width * channels * depth // 8)
    packer = zlib.compressobj(1)
    idat = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, depth, colour, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def test_a_small_png_declaring_gigabytes_is_refused_from_its_header(tmp_path, good, monkeypatch):
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(_png(13000, 13000, 16, 2, 3))  # 16-bit RGB: 1 GB decoded from a few MB
    assert bomb.stat().st_size < 8 * 2**20
    decode = cv2.imdecode

    def small_decodes_only(buffer: np.ndarray, flags: int) -> np.ndarray | None:
        assert buffer.size < 2**20, "the bomb was decoded"
        return decode(buffer, flags)  # the good frame

    monkeypatch.setattr(frames.cv2, "imdecode", small_decodes_only)
    _assert_refused([bomb, good], "13000×13000 frame would take 1,014,000,000 bytes decoded")
