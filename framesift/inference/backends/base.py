"""What every inference backend offers the embed service."""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np


@dataclass(frozen=True)
class Detection:
    class_name: str
    class_id: int
    score: float
    box: tuple[float, float, float, float]  # x_min, y_min, x_max, y_max, relative to the frame (0..1)


@dataclass(frozen=True)
class FrameEmbedding:
    vectors: dict[str, np.ndarray]  # named vectors, unit length, one per model
    detections: list[Detection] = field(default_factory=list)


class TextSearchUnavailableError(RuntimeError):
    """The configured backend has no text encoder."""


class InferenceUnavailableError(RuntimeError):
    """The inference server cannot be reached (retried; never dead-lettered)."""


class EmbeddingBackend(Protocol):
    name: str  # stored with every vector and shown in every output
    version: str
    vector_sizes: dict[str, int]  # named vector -> dimensions
    input_size: int  # frames are preprocessed to (3, input_size, input_size)
    has_detector: bool

    async def ready(self) -> bool: ...

    async def embed_images(self, batch: np.ndarray) -> list[FrameEmbedding]:
        """Embed a batch of preprocessed frames, float32 (n, 3, size, size)."""

    async def embed_text(self, text: str) -> np.ndarray:
        """The text's unit-length vector in the `clip` space (TextSearchUnavailableError without one)."""


async def close_backend(backend: EmbeddingBackend | None) -> None:
    """Release what a backend holds: backends may have a sync or an async `close`, or none."""
    close = getattr(backend, "close", None)
    if close is not None and inspect.isawaitable(result := close()):
        await result
