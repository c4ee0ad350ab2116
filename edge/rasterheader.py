"""What a JPEG or PNG file says about itself before anything is decoded.

A frame is decoded only once its header shows that it is whole and small enough: a camera may still be
writing it, and a file of a megabyte can declare an image of gigabytes. The header gives the size and the
memory OpenCV will need (pixels × channels × bytes per sample, as ``cv2.imdecode`` returns them), and a
walk over the file's structure tells a file cut short from one with bytes after its end marker (which
decodes fine). The walk reads markers and chunk lengths only, so it costs a small fraction of a decode.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass

JPEG_MAGIC = b"\xff\xd8\xff"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_JPEG_EOI = b"\xff\xd9"
#: start-of-frame markers, which carry the image size (0xC4, 0xC8 and 0xCC are other segments)
_JPEG_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
#: markers without a length field: RSTn, SOI and TEM
_JPEG_STANDALONE = frozenset(range(0xD0, 0xD9)) | {0x01}
#: the marker that ends a scan's entropy-coded data (0xFF00 is a stuffed byte, 0xFFD0-D7 restart markers)
_JPEG_SCAN_END = re.compile(rb"\xff[^\x00\xd0-\xd7\xff]")
#: channels of ``cv2.imdecode(..., IMREAD_UNCHANGED)`` per PNG colour type (palette and grey+alpha expand to 4)
_PNG_CHANNELS = {0: 1, 2: 3, 3: 4, 4: 4, 6: 4}


class HeaderError(Exception):
    """The file is not a whole JPEG or PNG: not an image, truncated, or a corrupt header."""


@dataclass(frozen=True)
class RasterHeader:
    format: str  #: "JPEG" or "PNG"
    width: int
    height: int
    channels: int  #: as OpenCV decodes it (JPEG: always 3, decoded as colour)
    sample_bytes: int  #: 1, or 2 for a 16-bit PNG

    def decoded_bytes(self, factor: int = 1) -> int:
        """Memory of the decoded array, at 1/``factor`` scale (a reduced JPEG decode)."""
        pixels = math.ceil(self.width / factor) * math.ceil(self.height / factor)
        return pixels * self.channels * self.sample_bytes


def read_header(data: bytes) -> RasterHeader:
    """The header of a complete JPEG or PNG; raises :class:`HeaderError` for anything else."""
    if data.startswith(JPEG_MAGIC):
        return _jpeg_header(data)
    if data.startswith(PNG_MAGIC):
        return _png_header(data)
    if JPEG_MAGIC.startswith(data[:3]) or PNG_MAGIC.startswith(data[:8]):
        raise HeaderError(f"truncated image ({len(data)} bytes): still being written or cut short")
    raise HeaderError(f"not an image (neither JPEG nor PNG; starts with {bytes(data[:8])!r})")


def _jpeg_header(data: bytes) -> RasterHeader:
    size: tuple[int, int] | None = None
    pos, end = 2, len(data)
    while True:
        pos = data.find(b"\xff", pos)  # the next marker; libjpeg skips stray bytes the same way
        while 0 <= pos < end and data[pos] == 0xFF:  # fill bytes before the marker code
            pos += 1
        if pos < 0 or pos >= end:
            break
        marker, pos = data[pos], pos + 1
        if marker == 0xD9:  # end of image: any bytes after it are ignored by the decoder
            if size is None:
                raise HeaderError("corrupt JPEG (no frame header before the end-of-image marker)")
            return RasterHeader("JPEG", size[0], size[1], 3, 1)
        if marker in _JPEG_STANDALONE:
            continue
        if pos + 2 > end:
            break
        length = int.from_bytes(data[pos:pos + 2], "big")
        if length < 2:
            raise HeaderError(f"corrupt JPEG (segment length {length} at byte {pos})")
        if marker in _JPEG_SOF:
            if pos + 7 > end:
                break
            size = int.from_bytes(data[pos + 5:pos + 7], "big"), int.from_bytes(data[pos + 3:pos + 5], "big")
        pos += length
        if marker == 0xDA:  # start of scan: entropy-coded data runs to the next marker
            if size is None:
                raise HeaderError("corrupt JPEG (scan before the frame header)")
            found = _JPEG_SCAN_END.search(data, pos)
            if found is None:
                break
            pos = found.start()
    if size is not None and data.rstrip(b"\x00").endswith(_JPEG_EOI):  # an odd structure that ends as a JPEG should
        return RasterHeader("JPEG", size[0], size[1], 3, 1)
    raise HeaderError("truncated JPEG (no end-of-image marker): still being written or cut short")


def _png_header(data: bytes) -> RasterHeader:
    if len(data) < 33:
        raise HeaderError("truncated PNG (header incomplete): still being written or cut short")
    if data[12:16] != b"IHDR":
        raise HeaderError("corrupt PNG (first chunk is not IHDR)")
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    depth, colour = data[24], data[25]
    if colour not in _PNG_CHANNELS or depth not in (1, 2, 4, 8, 16):
        raise HeaderError(f"corrupt PNG (bit depth {depth}, colour type {colour})")
    if not _png_complete(data):
        raise HeaderError("truncated PNG (no IEND chunk): still being written or cut short")
    return RasterHeader("PNG", width, height, _PNG_CHANNELS[colour], 2 if depth == 16 else 1)


def _png_complete(data: bytes) -> bool:
    if b"IEND" in data[-16:]:  # the usual case: IEND is the last chunk
        return True
    pos = 8
    while pos + 8 <= len(data):  # walk the chunks: IEND followed by other bytes is still complete
        length = int.from_bytes(data[pos:pos + 4], "big")
        kind = data[pos + 4:pos + 8]
        pos += 12 + length
        if kind == b"IEND":
            return pos <= len(data)
    return False
