"""Images with a known answer, built in the test."""

from __future__ import annotations

import io

from PIL import Image


def jpeg(width: int = 64, height: int = 48, color: tuple[int, int, int] = (10, 200, 30), quality: int = 90) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


def png(width: int = 32, height: int = 32, color: tuple[int, int, int] = (200, 10, 30)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buffer, format="PNG")
    return buffer.getvalue()


def webp(width: int = 32, height: int = 32) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (1, 2, 3)).save(buffer, format="WEBP")
    return buffer.getvalue()
