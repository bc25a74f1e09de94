"""Read-model rows -> the protobuf pieces every curate output shares (records, frames.selected)."""

from __future__ import annotations

from typing import Any

from google.protobuf.timestamp_pb2 import Timestamp

from framesift.v1 import frames_pb2


def timestamp(seconds: float) -> Timestamp:
    stamp = Timestamp()
    stamp.FromMicroseconds(round(seconds * 1e6))
    return stamp


def frame_ref(row: dict[str, Any]) -> frames_pb2.FrameRef:
    return frames_pb2.FrameRef(
        frame_id=row["frame_id"],
        camera_id=row["camera_id"],
        captured_at=timestamp(row["captured_at"]),
        object_key=row["object_key"],
        sha256=row["sha256"],
    )


def priority_parts(row: dict[str, Any]) -> frames_pb2.Priority:
    return frames_pb2.Priority(
        total=row["priority"] or 0.0,
        uncertainty=row["uncertainty"] or 0.0,
        rarity=row["rarity"] or 0.0,
        novelty=row["novelty"] or 0.0,
        quality=row["quality"] or 0.0,
    )
