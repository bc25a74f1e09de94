"""The one vocabulary every part speaks: reject reasons, frame statuses, FrameRef, timestamps.

Defined once here, from the protos where the protos define it, so events, database columns, CLI
output and API answers cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from enum import IntEnum, StrEnum
from typing import Any

from google.protobuf.timestamp_pb2 import Timestamp

from framesift.v1 import curation_pb2, frames_pb2

_REASON_PREFIX = "REJECT_REASON_"


class Reason(StrEnum):
    """The reject reasons, named as in the RejectReason enum without its prefix."""

    CORRUPT = "corrupt"
    BLURRY = "blurry"
    DARK = "dark"
    OVEREXPOSED = "overexposed"
    LOW_INFORMATION = "low_information"
    ODD_SIZE = "odd_size"
    EXACT_DUPLICATE = "exact_duplicate"
    NEAR_DUPLICATE = "near_duplicate"

    def to_proto(self) -> int:
        return frames_pb2.RejectReason.Value(f"{_REASON_PREFIX}{self.name}")

    @classmethod
    def from_proto(cls, value: int) -> Reason:
        return cls[frames_pb2.RejectReason.Name(value).removeprefix(_REASON_PREFIX)]


def reason_names(reasons: Iterable[int]) -> list[str]:
    """RejectReason values -> their names in the vocabulary ("blurry", ...)."""
    return [Reason.from_proto(r).value for r in reasons]


class Status(IntEnum):
    """A frame's stage; a frame only moves forward (replays and redeliveries never move it back)."""

    INGESTED = 1
    REJECTED = 2
    CHECKED = 3
    EMBEDDED = 4
    SKIPPED = 5
    SELECTED = 6
    LABELLED = 7

    @property
    def label(self) -> str:
        return self.name.lower()

    def to_proto(self) -> int:
        """The CurationService's FrameStatus of the same name (its numbers differ: by name only)."""
        return curation_pb2.FrameStatus.Value(f"FRAME_STATUS_{self.name}")


# The quality metrics every kept or rejected frame carries (frames.checked / .rejected `metrics`):
# quality measures exactly these (a test holds its FrameMetrics to this list), and the query
# language accepts exactly these as fields, so a typo is an error, not an empty answer.
QUALITY_METRICS: tuple[str, ...] = (
    "width",
    "height",
    "aspect_ratio",
    "brightness",
    "luma_p01",
    "luma_p05",
    "luma_p50",
    "luma_p99",
    "clipped_fraction",
    "unclipped_p50",
    "near_white_fraction",
    "contrast",
    "entropy",
    "edge_blur_px",
)


def timestamp(moment: float | datetime) -> Timestamp:
    """Seconds since the epoch (UTC) or an aware datetime -> a protobuf Timestamp (microseconds)."""
    stamp = Timestamp()
    if isinstance(moment, datetime):
        stamp.FromDatetime(moment.astimezone(UTC))
    else:
        stamp.FromMicroseconds(round(moment * 1e6))
    return stamp


def seconds(stamp: Timestamp) -> float:
    """A protobuf Timestamp -> seconds since the epoch."""
    return stamp.ToMicroseconds() / 1e6


def frame_ref(source: Mapping[str, Any] | Any) -> frames_pb2.FrameRef:
    """A frame's identity as a FrameRef, from a read-model row (a mapping, capture time in
    seconds) or from an event carrying the same fields (FrameIngested)."""
    field = source.__getitem__ if isinstance(source, Mapping) else lambda name: getattr(source, name)
    captured = field("captured_at")
    return frames_pb2.FrameRef(
        frame_id=field("frame_id"),
        camera_id=field("camera_id"),
        captured_at=captured if isinstance(captured, Timestamp) else timestamp(captured),
        object_key=field("object_key"),
        sha256=field("sha256"),
    )
