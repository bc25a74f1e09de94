"""Image type sniffed from the bytes themselves, never from a file name or a header."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class MediaType:
    mime: str
    extension: str


JPEG = MediaType("image/jpeg", "jpg")
PNG = MediaType("image/png", "png")
WEBP = MediaType("image/webp", "webp")
GIF = MediaType("image/gif", "gif")
BMP = MediaType("image/bmp", "bmp")
TIFF = MediaType("image/tiff", "tif")
AVIF = MediaType("image/avif", "avif")
HEIC = MediaType("image/heic", "heic")


def sniff(data: bytes) -> MediaType | None:
    """The image type announced by the file's signature, or None for anything else.

    A truncated or corrupt image with a valid signature is still an image: quality decides.
    """
    if data.startswith(b"\xff\xd8\xff"):
        return JPEG
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return WEBP
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return GIF
    if data[:2] == b"BM" and len(data) >= 26:
        return BMP
    if data[:4] in (b"II*\x00", b"MM\x00*"):
        return TIFF
    if len(data) >= 12 and data[4:8] == b"ftyp":
        brand = data[8:12]
        if brand in (b"avif", b"avis"):
            return AVIF
        if brand in (b"heic", b"heix", b"hevc", b"mif1"):
            return HEIC
    return None
