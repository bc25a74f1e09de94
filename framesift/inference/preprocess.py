"""One decode and one preprocessing per frame, identical for every inference backend.

CLIP's recipe: shortest side resized to the input size (bicubic), centre crop, RGB scaled to
0..1 and normalised with CLIP's mean and standard deviation, channels first. JPEGs are decoded
with libjpeg's reduced-size decoding down to the smallest scale that still covers the input.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass

import numpy as np
from PIL import Image, UnidentifiedImageError

INPUT_SIZE = 224
CLIP_MEAN = np.array([0.48145466, 0.4578275, 0.40821073], dtype=np.float32)
CLIP_STD = np.array([0.26862954, 0.26130258, 0.27577711], dtype=np.float32)


class UndecodableFrameError(ValueError):
    """The frame's bytes do not decode (quality should have stopped it; it goes to the DLQ)."""


@dataclass(frozen=True)
class PreparedFrame:
    pixels: np.ndarray  # float32 (3, size, size), CLIP-normalised
    width: int  # the frame's full size
    height: int


def prepare(data: bytes, size: int = INPUT_SIZE) -> PreparedFrame:
    try:
        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size
            if image.format == "JPEG":
                scale = size / min(width, height)
                image.draft("RGB", (math.ceil(width * scale), math.ceil(height * scale)))
            rgb = image.convert("RGB")
    except UnidentifiedImageError as exc:  # its message names an internal buffer object
        raise UndecodableFrameError("not in an image format framesift decodes (JPEG, PNG, WebP, ...)") from exc
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise UndecodableFrameError(f"frame does not decode: {exc}") from exc
    return PreparedFrame(pixels=to_tensor(rgb, size), width=width, height=height)


def to_tensor(rgb: Image.Image, size: int = INPUT_SIZE) -> np.ndarray:
    width, height = rgb.size
    scale = size / min(width, height)
    resized = rgb.resize((max(size, round(width * scale)), max(size, round(height * scale))), Image.Resampling.BICUBIC)
    left, top = (resized.width - size) // 2, (resized.height - size) // 2
    cropped = np.asarray(resized.crop((left, top, left + size, top + size)), dtype=np.float32) / 255.0
    return ((cropped - CLIP_MEAN) / CLIP_STD).transpose(2, 0, 1).copy()


def to_rgb01(pixels: np.ndarray) -> np.ndarray:
    """Back from the normalised tensor to (size, size, 3) RGB in 0..1 (for weights-free features)."""
    return np.clip(pixels.transpose(1, 2, 0) * CLIP_STD + CLIP_MEAN, 0.0, 1.0)
