"""Model outputs to FrameEmbeddings, the same for every backend that runs the repository's models."""

from __future__ import annotations

import numpy as np

from ..models.repository import ModelRepository
from .base import Detection, FrameEmbedding, TextSearchUnavailableError

CLIP_VECTOR = "clip"


def to_detections(
    boxes: np.ndarray, scores: np.ndarray, class_ids: np.ndarray, classes: tuple[str, ...], threshold: float
) -> list[Detection]:
    """One frame's detections at or above `threshold`, best first; boxes clipped to the frame."""
    found = []
    for box, score, class_id in zip(boxes, scores, class_ids, strict=True):
        if score < threshold:
            continue
        index = int(class_id)
        name = classes[index] if 0 <= index < len(classes) else f"class-{index}"
        clipped = np.clip(box, 0.0, 1.0)
        found.append(Detection(name, index, float(score), tuple(float(v) for v in clipped)))
    return sorted(found, key=lambda d: -d.score)


def unit_rows(embeddings: np.ndarray) -> np.ndarray:
    return (embeddings / np.maximum(np.linalg.norm(embeddings, axis=1, keepdims=True), 1e-12)).astype(np.float32)


def assemble(
    embeddings: np.ndarray, detector: tuple[np.ndarray, np.ndarray, np.ndarray] | None, repository: ModelRepository
) -> list[FrameEmbedding]:
    """One FrameEmbedding per frame: its unit-length clip vector and its detections (if a detector ran)."""
    detections: list[list[Detection]] = [[] for _ in range(len(embeddings))]
    if detector is not None:
        detections = [
            to_detections(*parts, repository.classes, repository.score_threshold)
            for parts in zip(*detector, strict=True)
        ]
    return [
        FrameEmbedding(vectors={CLIP_VECTOR: vector}, detections=found)
        for vector, found in zip(unit_rows(embeddings), detections, strict=True)
    ]


def per_frame_outputs(runs: list[list[np.ndarray]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A detector exported for one frame per call, run frame by frame: its outputs as one batch."""
    boxes, scores, class_ids = (np.concatenate(parts) for parts in zip(*runs, strict=True))
    return boxes, scores, class_ids


def no_text_model(repository: ModelRepository) -> TextSearchUnavailableError:
    return TextSearchUnavailableError(
        f"text search needs a clip_text model in the repository {repository.root} "
        "(`framesift models export` writes one)"
    )
