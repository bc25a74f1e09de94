"""A deterministic, weights-free image descriptor: similarity without a model.

Used when no model repository is configured, so that near-neighbour search, diversity and
novelty still work on a fresh machine. Three parts, each L2-normalised, then joined:
  colour   4x4x4 joint RGB histogram, square-rooted (Hellinger)      64
  layout   8x8 grey thumbnail, mean removed (scene composition)       64
  texture  8-bin gradient-orientation histograms on a 2x2 grid        32
Cosine similarity between two descriptors is high for the same scene and low for different
ones; it knows nothing about objects, so it gives no detections and no text search.
"""

from __future__ import annotations

import numpy as np

from ..preprocess import INPUT_SIZE, to_rgb01
from .base import FrameEmbedding, TextSearchUnavailableError

NAME = "descriptor"
VERSION = "1"
DIMENSIONS = 160


def describe(pixels: np.ndarray) -> np.ndarray:
    """The descriptor of one preprocessed frame (3, size, size)."""
    rgb = to_rgb01(pixels)
    bins = np.minimum((rgb * 4).astype(np.int64), 3)
    colour = np.bincount((bins[..., 0] * 16 + bins[..., 1] * 4 + bins[..., 2]).ravel(), minlength=64)
    colour = np.sqrt(colour / colour.sum())

    grey = rgb @ np.array([0.299, 0.587, 0.114])
    side = grey.shape[0] // 8 * 8
    layout = grey[:side, :side].reshape(8, side // 8, 8, side // 8).mean(axis=(1, 3)).ravel()
    layout = layout - layout.mean()

    gy, gx = np.gradient(grey)
    magnitude = np.hypot(gx, gy)
    orientation = ((np.arctan2(gy, gx) % np.pi) / np.pi * 8).astype(np.int64) % 8
    half = grey.shape[0] // 2
    texture = []
    for rows in (slice(0, half), slice(half, None)):
        for cols in (slice(0, half), slice(half, None)):
            texture.append(np.bincount(orientation[rows, cols].ravel(), magnitude[rows, cols].ravel(), minlength=8))
    texture = np.sqrt(np.concatenate(texture))

    parts = [_unit(colour), _unit(layout), _unit(texture)]
    return _unit(np.concatenate(parts)).astype(np.float32)


def _unit(vector: np.ndarray) -> np.ndarray:
    norm = float(np.linalg.norm(vector))
    return vector / norm if norm > 0 else vector


class DescriptorBackend:
    name = NAME
    version = VERSION
    vector_sizes = {NAME: DIMENSIONS}
    input_size = INPUT_SIZE
    has_detector = False

    async def ready(self) -> bool:
        return True

    async def embed_images(self, batch: np.ndarray) -> list[FrameEmbedding]:
        return [FrameEmbedding(vectors={NAME: describe(pixels)}) for pixels in batch]

    async def embed_text(self, text: str) -> np.ndarray:
        raise TextSearchUnavailableError(
            "text search needs a CLIP model, and this deployment embeds with the weights-free "
            "descriptor backend (FRAMESIFT_EMBED_BACKEND=descriptor)"
        )
