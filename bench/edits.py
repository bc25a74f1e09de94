"""Ordinary edits of a kept frame, per kind, for measuring near-duplicate recall.

Each kind draws its strength from the range a person or a camera pipeline actually applies
(the ranges of issue 16): a re-encode at JPEG quality 25-75, a resize to 50-90 %, a crop keeping
90-97 % of each side (anywhere in the frame, not only central), a brightness or contrast gain of
x0.85-1.15, a rotation of 1-3 degrees (a knocked camera: the view turns and the frame stays
full, so the rotated picture is cropped to its inscribed rectangle and scaled back), a text
watermark or a timestamp overlay, a resize followed by a re-encode, and the next frames of a
still camera. The originals are real photographs and video frames (bench/realimages.py).
"""

from __future__ import annotations

import io
import math
import random
from collections.abc import Callable

from PIL import Image, ImageDraw, ImageEnhance, ImageFont

EditKind = Callable[[Image.Image, random.Random], Image.Image]


def _reencoded(image: Image.Image, quality: int) -> Image.Image:
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, format="JPEG", quality=quality)
    buffer.seek(0)
    return Image.open(buffer).convert("RGB")


def jpeg(image: Image.Image, rng: random.Random) -> Image.Image:
    return _reencoded(image, rng.randint(25, 75))


def resize(image: Image.Image, rng: random.Random) -> Image.Image:
    scale = rng.uniform(0.5, 0.9)
    width, height = image.size
    return image.resize((max(1, round(width * scale)), max(1, round(height * scale))), Image.Resampling.LANCZOS)


def crop(image: Image.Image, rng: random.Random) -> Image.Image:
    width, height = image.size
    keep_x, keep_y = rng.uniform(0.90, 0.97), rng.uniform(0.90, 0.97)
    new_width, new_height = round(width * keep_x), round(height * keep_y)
    left = rng.randint(0, width - new_width)
    top = rng.randint(0, height - new_height)
    return image.crop((left, top, left + new_width, top + new_height))


def brightness_contrast(image: Image.Image, rng: random.Random) -> Image.Image:
    enhancer = ImageEnhance.Brightness if rng.random() < 0.5 else ImageEnhance.Contrast
    factor = rng.uniform(0.85, 1.15)
    return enhancer(image).enhance(factor)


def rotation(image: Image.Image, rng: random.Random) -> Image.Image:
    degrees = rng.uniform(1.0, 3.0) * rng.choice((-1, 1))
    width, height = image.size
    turned = image.rotate(degrees, resample=Image.Resampling.BICUBIC)
    # Largest axis-aligned rectangle of the original's aspect inside the turned frame.
    angle = math.radians(abs(degrees))
    scale = 1.0 / (math.cos(angle) + max(width / height, height / width) * math.sin(angle))
    inner_width, inner_height = width * scale, height * scale
    left, top = round((width - inner_width) / 2), round((height - inner_height) / 2)
    box = (left, top, left + round(inner_width), top + round(inner_height))
    return turned.crop(box).resize((width, height), Image.Resampling.BICUBIC)


def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    return ImageFont.load_default(size=size)


def overlay(image: Image.Image, rng: random.Random) -> Image.Image:
    """A camera's timestamp in a corner, or a semi-transparent watermark across the frame."""
    width, height = image.size
    edited = image.convert("RGBA")
    layer = Image.new("RGBA", edited.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    if rng.random() < 0.5:
        day = f"2026-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
        clock = f"{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}"
        text = f"{day} {clock} CAM{rng.randint(1, 99):02d}"
        size = max(10, height // 22)
        font = _font(size)
        left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
        x = rng.choice((size // 2, width - (right - left) - size // 2))
        y = rng.choice((size // 2, height - (bottom - top) - size // 2))
        draw.rectangle((x - 4, y - 4, x + right - left + 4, y + bottom - top + 4), fill=(0, 0, 0, 160))
        draw.text((x - left, y - top), text, font=font, fill=(255, 255, 255, 255))
    else:
        text = rng.choice(("SAMPLE", "© framesift", "CONFIDENTIAL", "DRAFT"))
        size = max(12, width // 9)
        font = _font(size)
        left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
        x, y = (width - (right - left)) // 2 - left, (height - (bottom - top)) // 2 - top
        draw.text((x, y), text, font=font, fill=(255, 255, 255, rng.randint(70, 120)))
    return Image.alpha_composite(edited, layer).convert("RGB")


def resize_reencode(image: Image.Image, rng: random.Random) -> Image.Image:
    return _reencoded(resize(image, rng), rng.randint(25, 75))


# The next frames of a still camera are not an edit of one picture; bench/quality.py takes them
# from the clips themselves (bench/realimages.next_frame).
EDIT_KINDS: dict[str, EditKind] = {
    "jpeg q25-75": jpeg,
    "resize 50-90%": resize,
    "crop 90-97%": crop,
    "brightness/contrast": brightness_contrast,
    "rotate 1-3 deg": rotation,
    "text overlay": overlay,
    "resize + re-encode": resize_reencode,
}
NEXT_FRAMES = "next frames (still camera)"
