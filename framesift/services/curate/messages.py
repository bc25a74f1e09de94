"""Read-model rows -> the protobuf pieces curate's outputs share beyond the vocabulary's FrameRef."""

from __future__ import annotations

from typing import Any

from framesift.v1 import frames_pb2


def priority_parts(row: dict[str, Any]) -> frames_pb2.Priority:
    return frames_pb2.Priority(
        total=row["priority"] or 0.0,
        uncertainty=row["uncertainty"] or 0.0,
        rarity=row["rarity"] or 0.0,
        novelty=row["novelty"] or 0.0,
        quality=row["quality"] or 0.0,
    )


def detection(stored: dict[str, Any]) -> frames_pb2.Detection:
    """A detection as curate stores it (class, score, box) -> its proto."""
    x_min, y_min, x_max, y_max = stored["box"]
    return frames_pb2.Detection(
        class_name=stored["class"],
        score=stored["score"],
        box=frames_pb2.Box(x_min=x_min, y_min=y_min, x_max=x_max, y_max=y_max),
    )
