"""Container-level integrity: the checks a decoder does not make on its own.

libjpeg decodes a JPEG that lost its tail (it pads the missing rows with grey and only warns),
and Pillow skips PNG CRCs of chunks it does not need. A truncated upload looks like a valid
image to both, so the bytes are checked here before any pixel is decoded.
"""

from __future__ import annotations

import struct
import zlib

from framesift.contracts.media import JPEG, PNG, MediaType, sniff

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_JPEG_SOS = b"\xff\xda"
_JPEG_EOI = b"\xff\xd9"


class CorruptFrameError(ValueError):
    """The bytes are not a complete, decodable image; `kind` names the fault."""

    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(f"{kind}: {detail}")
        self.kind = kind
        self.detail = detail


def check_container(data: bytes) -> MediaType:
    """The media type of `data`, or CorruptFrameError when its container is broken."""
    if not data:
        raise CorruptFrameError("empty", "zero bytes")
    media = sniff(data)
    if media is None:
        raise CorruptFrameError("not_an_image", "no known image signature")
    if media == JPEG:
        _check_jpeg(data)
    elif media == PNG:
        _check_png(data)
    return media


def _check_jpeg(data: bytes) -> None:
    # Entropy-coded data stuffs every 0xFF with 0x00, so no FF D9 or FF DA can appear inside a
    # scan: the image is complete when its last end-of-image marker comes after every
    # start-of-scan. An EXIF thumbnail's EOI comes before the main image's first SOS, and bytes
    # after the EOI (some cameras append metadata) are allowed. Searching from the end keeps
    # this at microseconds for a complete file.
    if data.find(_JPEG_SOS) < 0:
        raise CorruptFrameError("truncated", "JPEG has no scan data")
    end = data.rfind(_JPEG_EOI)
    if end < 0 or data.find(_JPEG_SOS, end) >= 0:
        raise CorruptFrameError("truncated", "JPEG ends without an end-of-image marker")


def _check_png(data: bytes) -> None:
    """Walk every chunk, verifying its CRC, up to IEND."""
    offset = len(_PNG_SIGNATURE)
    saw_data = False
    while True:
        if offset + 8 > len(data):
            raise CorruptFrameError("truncated", "PNG ends before its IEND chunk")
        length, kind = struct.unpack(">I4s", data[offset : offset + 8])
        end = offset + 8 + length + 4
        if end > len(data):
            raise CorruptFrameError("truncated", f"PNG chunk {kind!r} runs past the end of the file")
        body = data[offset + 4 : offset + 8 + length]  # type + payload, what the CRC covers
        (crc,) = struct.unpack(">I", data[end - 4 : end])
        if zlib.crc32(body) != crc:
            raise CorruptFrameError("bad_crc", f"PNG chunk {kind.decode('latin-1')!r} fails its CRC")
        saw_data = saw_data or kind == b"IDAT"
        if kind == b"IEND":
            if not saw_data:
                raise CorruptFrameError("undecodable", "PNG has no image data")
            return
        offset = end
