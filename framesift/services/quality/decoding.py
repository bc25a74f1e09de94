"""One decode per frame, straight to the grey working image every metric is computed on.

JPEG frames use libjpeg's reduced-size decoding (draft mode): the IDCT runs at 1/2, 1/4 or 1/8
scale and only the luma channel is produced, which is both faster than a full decode and all
the resolution the metrics need. Every scan is still decoded, so truncation is still caught.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass

import numpy as np
from PIL import Image

from framesift.contracts.media import MediaType

from .integrity import CorruptFrameError, check_container

# Long side of the working image. Metrics are defined at this scale so that they mean the same
# for a 4K and a 720p camera: 1080p decodes at 1/4 scale to 480x270 without any resampling.
WORKING_SIDE = 480

# Larger than any camera frame: Pillow's decompression-bomb limit (about 89 Mpx), checked here
# rather than by turning its warning into an error (warning filters are process-wide, and the
# decode runs in worker threads).
MAX_PIXELS = Image.MAX_IMAGE_PIXELS


@dataclass(frozen=True)
class DecodedFrame:
    media: MediaType
    width: int
    height: int
    grey: np.ndarray  # uint8, (h, w), long side <= WORKING_SIDE


def decode(data: bytes) -> DecodedFrame:
    """Decode `data` once; CorruptFrameError when it is not a complete image."""
    media = check_container(data)
    try:
        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size
            if width * height > MAX_PIXELS:
                raise CorruptFrameError("too_large", f"{width}x{height} exceeds {MAX_PIXELS} pixels")
            if image.format == "JPEG":
                scale = min(1.0, WORKING_SIDE / max(width, height))
                image.draft("L", (math.ceil(width * scale), math.ceil(height * scale)))
            image.load()  # decodes every scan: a truncated or damaged stream raises here
            grey = _to_grey(image)
    except CorruptFrameError:
        raise
    except Image.DecompressionBombError as exc:
        raise CorruptFrameError("too_large", str(exc)) from exc
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise CorruptFrameError("undecodable", str(exc) or type(exc).__name__) from exc
    return DecodedFrame(media=media, width=width, height=height, grey=_working_size(grey))


def _to_grey(image: Image.Image) -> Image.Image:
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        # Pillow's convert("L") clips 16-bit values instead of scaling them.
        array = np.asarray(image, dtype=np.float32)
        peak = 65535.0 if image.mode.startswith("I;16") or array.max() > 255 else 255.0
        return Image.fromarray(np.clip(array * (255.0 / peak), 0, 255).astype(np.uint8), "L")
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        # Transparent pixels are shown over black by most viewers; composite so that the grey
        # values do not depend on whatever colour the encoder left under alpha 0.
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (0, 0, 0, 255))
        return Image.alpha_composite(background, rgba).convert("L")
    return image if image.mode == "L" else image.convert("L")


def _working_size(grey: Image.Image) -> np.ndarray:
    width, height = grey.size
    long_side = max(width, height)
    if long_side > WORKING_SIDE:
        scale = WORKING_SIDE / long_side
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        grey = grey.resize(size, Image.Resampling.BOX)
    return np.asarray(grey, dtype=np.uint8)
