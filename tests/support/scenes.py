"""Crafted scenes with known properties for the quality checks (no files, no downloads)."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageDraw, ImageFilter


def scene(width: int = 640, height: int = 360, seed: int = 0, noise: float = 2.0) -> Image.Image:
    """Sharp-edged shapes of many greys and colours over a gradient, with a little sensor noise."""
    rng = np.random.default_rng(seed)
    ramp = np.linspace(60, 190, width, dtype=np.float32)[None, :, None]
    base = np.repeat(np.repeat(ramp, height, axis=0), 3, axis=2)
    image = Image.fromarray(base.astype(np.uint8))
    draw = ImageDraw.Draw(image)
    for _ in range(40):
        x0, y0 = int(rng.integers(0, width - 20)), int(rng.integers(0, height - 20))
        x1, y1 = x0 + int(rng.integers(10, width // 3)), y0 + int(rng.integers(10, height // 3))
        color = tuple(int(c) for c in rng.integers(0, 256, 3))
        if rng.random() < 0.5:
            draw.rectangle((x0, y0, x1, y1), fill=color)
        else:
            draw.ellipse((x0, y0, x1, y1), fill=color)
    pixels = np.asarray(image, dtype=np.float32) + rng.normal(0, noise, (height, width, 3))
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))


def uniform(width: int = 640, height: int = 360, level: int = 128, noise: float = 3.0, seed: int = 0) -> Image.Image:
    rng = np.random.default_rng(seed)
    pixels = np.full((height, width, 3), level, dtype=np.float32) + rng.normal(0, noise, (height, width, 3))
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))


def blurred(image: Image.Image, sigma: float) -> Image.Image:
    return image.filter(ImageFilter.GaussianBlur(sigma))


def motion_blurred(image: Image.Image, length: int) -> Image.Image:
    """Horizontal motion blur: the mean of `length` shifted copies."""
    pixels = np.asarray(image, dtype=np.float32)
    out = sum(np.roll(pixels, shift, axis=1) for shift in range(length)) / length
    return Image.fromarray(np.clip(out, 0, 255).astype(np.uint8))


def scaled_luma(image: Image.Image, gain: float, offset: float = 0.0) -> Image.Image:
    pixels = np.asarray(image, dtype=np.float32) * gain + offset
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))


def encode(image: Image.Image, fmt: str = "JPEG", **options) -> bytes:
    buffer = io.BytesIO()
    if fmt == "JPEG":
        options.setdefault("quality", 90)
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()
