"""Every corrupt kind is caught, with its kind named; valid files in every format are not."""

from __future__ import annotations

import io
import struct
import zlib

import pytest
from PIL import Image

from framesift.services.quality.decoding import decode
from framesift.services.quality.integrity import CorruptFrameError
from tests.support.scenes import encode, scene


def corrupt_kind(data: bytes) -> str:
    with pytest.raises(CorruptFrameError) as caught:
        decode(data)
    return caught.value.kind


def test_zero_bytes() -> None:
    assert corrupt_kind(b"") == "empty"


def test_bytes_that_are_not_an_image() -> None:
    assert corrupt_kind(b"<html>502 Bad Gateway</html>") == "not_an_image"
    assert corrupt_kind(b"\x00" * 1000) == "not_an_image"


@pytest.mark.parametrize("keep", [0.3, 0.6, 0.95])
def test_jpeg_cut_off_anywhere_in_its_scan(keep: float) -> None:
    data = encode(scene())
    assert corrupt_kind(data[: int(len(data) * keep)]) == "truncated"


def test_jpeg_missing_only_its_end_marker() -> None:
    data = encode(scene())
    assert data.endswith(b"\xff\xd9")
    assert corrupt_kind(data[:-2]) == "truncated"


def test_jpeg_cut_before_any_scan() -> None:
    data = encode(scene())
    assert corrupt_kind(data[: data.index(b"\xff\xda")]) == "truncated"


def test_progressive_jpeg_cut_between_scans() -> None:
    data = encode(scene(), progressive=True)
    second_scan = data.index(b"\xff\xda", data.index(b"\xff\xda") + 2)
    assert corrupt_kind(data[: second_scan + 200]) == "truncated"
    assert decode(data).width == 640  # the complete file is fine


def test_jpeg_with_bytes_after_its_end_marker_is_not_corrupt() -> None:
    # Some cameras append metadata after EOI; the image itself is complete.
    frame = decode(encode(scene()) + b"\x00" * 64 + b"VENDOR-TRAILER")
    assert (frame.width, frame.height) == (640, 360)


def test_jpeg_whose_thumbnail_is_complete_but_main_image_is_cut() -> None:
    # An EXIF thumbnail carries its own FF D9 before the main image's scan.
    thumbnail = encode(scene(64, 36))
    exif = Image.Exif()
    main = scene()
    buffer = io.BytesIO()
    main.save(buffer, format="JPEG", quality=90, exif=exif.tobytes())
    data = buffer.getvalue()
    app1 = b"\xff\xe1" + struct.pack(">H", len(thumbnail) + 2) + thumbnail
    with_thumbnail = data[:2] + app1 + data[2:]
    assert decode(with_thumbnail).width == 640
    assert corrupt_kind(with_thumbnail[: len(with_thumbnail) - 5000]) == "truncated"


def _png_chunks(data: bytes) -> list[tuple[int, bytes]]:
    offset, chunks = 8, []
    while offset < len(data):
        length, kind = struct.unpack(">I4s", data[offset : offset + 8])
        chunks.append((offset, kind))
        offset += 12 + length
    return chunks


def test_png_with_a_flipped_bit_fails_its_crc() -> None:
    data = bytearray(encode(scene(), "PNG"))
    idat = next(offset for offset, kind in _png_chunks(bytes(data)) if kind == b"IDAT")
    data[idat + 8 + 50] ^= 0x04
    assert corrupt_kind(bytes(data)) == "bad_crc"


def test_png_cut_before_iend() -> None:
    data = encode(scene(), "PNG")
    assert corrupt_kind(data[:-12]) == "truncated"  # exactly the IEND chunk missing
    assert corrupt_kind(data[: len(data) // 2]) == "truncated"


def test_png_without_image_data() -> None:
    signature = b"\x89PNG\r\n\x1a\n"
    ihdr = struct.pack(">IIBBBBB", 16, 16, 8, 2, 0, 0, 0)

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    assert corrupt_kind(signature + chunk(b"IHDR", ihdr) + chunk(b"IEND", b"")) == "undecodable"


@pytest.mark.parametrize("fmt", ["GIF", "WEBP", "BMP", "TIFF"])
def test_other_formats_cut_short_fail_their_full_decode(fmt: str) -> None:
    data = encode(scene(), fmt)
    assert decode(data).width == 640
    assert corrupt_kind(data[: len(data) // 2]) == "undecodable"


def test_declared_size_beyond_the_pixel_limit() -> None:
    header = bytearray(encode(Image.new("L", (8, 8)), "PNG"))
    ihdr = header.index(b"IHDR")
    header[ihdr + 4 : ihdr + 12] = struct.pack(">II", 20_000, 20_000)
    header[ihdr + 17 : ihdr + 21] = struct.pack(">I", zlib.crc32(bytes(header[ihdr : ihdr + 17])))
    assert corrupt_kind(bytes(header)) == "too_large"
