"""Ingest's use case: one uploaded frame in, stored content-addressed, announced once.

Transport-free: the HTTP route, the gRPC stream and the CLI all call `ingest_frame`.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from framesift.bus.events import EventPublisher
from framesift.contracts.errors import shown
from framesift.contracts.identifiers import frame_object_key, validate_camera_id
from framesift.contracts.media import sniff
from framesift.contracts.vocabulary import timestamp
from framesift.runtime import metrics
from framesift.store.base import ObjectStore
from framesift.v1 import frames_pb2

from .ledger import UploadLedger


@dataclass(frozen=True)
class UploadFrame:
    """Command: store this frame from this camera."""

    camera_id: str
    data: bytes
    captured_at: datetime | None = None


@dataclass(frozen=True)
class FrameAccepted:
    frame_id: str
    camera_id: str
    sha256: str
    object_key: str
    media_type: str
    size_bytes: int
    # False when the upload repeated bytes already ingested within the window (no new event).
    created: bool


class FrameTooLargeError(ValueError):
    pass


class NotAnImageError(ValueError):
    pass


class InvalidCaptureTimeError(ValueError):
    """captured_at is not a time framesift can store (it names the field and the accepted forms)."""


class CapturedInFutureError(ValueError):
    """The camera's clock is ahead of ours by more than the tolerated skew."""


@dataclass
class IngestDeps:
    store: ObjectStore
    ledger: UploadLedger
    publisher: EventPublisher
    max_upload_bytes: int
    max_clock_ahead: timedelta = timedelta(minutes=5)
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)


def _utc(moment: datetime | None) -> datetime | None:
    """A capture time without a zone is UTC (cameras report UTC; the HTTP API reads it so too);
    one that UTC cannot represent (0001-01-01T00:00:00+01:00 is in year 0) is refused, before
    anything is stored."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(UTC)
    except (OverflowError, ValueError) as exc:
        raise InvalidCaptureTimeError(f"captured_at {moment.isoformat()} is outside the years 1 to 9999 UTC") from exc


def parse_capture_time(value: str) -> datetime:
    """captured_at as a client sends it: ISO 8601 (no zone: UTC) or epoch seconds, nothing else."""
    text = value.strip()
    try:
        if re.fullmatch(r"-?\d+(\.\d+)?", text):
            return datetime.fromtimestamp(float(text), UTC)
        moment = datetime.fromisoformat(text)
    except (OverflowError, ValueError, OSError) as exc:
        raise InvalidCaptureTimeError(
            f"captured_at {shown(value)} is not ISO 8601 (2026-11-25T08:00:00Z) or epoch seconds in the years 1 to 9999"
        ) from exc
    return moment


async def ingest_frame(command: UploadFrame, deps: IngestDeps) -> FrameAccepted:
    camera_id = validate_camera_id(command.camera_id)
    data = command.data
    if len(data) > deps.max_upload_bytes:
        metrics.FRAMES_INGESTED.labels("too_large").inc()
        raise FrameTooLargeError(f"frame of {len(data)} bytes exceeds the limit of {deps.max_upload_bytes} bytes")
    media = sniff(data)
    if media is None:
        metrics.FRAMES_INGESTED.labels("not_an_image").inc()
        raise NotAnImageError("the bytes are not a JPEG, PNG, WebP, GIF, BMP, TIFF, AVIF or HEIC image")
    now = deps.clock()
    captured_at = _utc(command.captured_at)
    if captured_at is not None and captured_at - now > deps.max_clock_ahead:
        metrics.FRAMES_INGESTED.labels("clock_ahead").inc()
        ahead = (captured_at - now).total_seconds()
        raise CapturedInFutureError(
            f"captured_at {captured_at.isoformat()} is {ahead:.0f} s ahead of the server clock "
            f"(tolerance {deps.max_clock_ahead.total_seconds():.0f} s): check the camera's clock"
        )
    digest = hashlib.sha256(data).hexdigest()
    object_key = frame_object_key(camera_id, digest, media.extension)
    claim = await deps.ledger.claim_async(camera_id, digest, now)
    accepted = FrameAccepted(claim.frame_id, camera_id, digest, object_key, media.mime, len(data), created=claim.new)
    if not claim.new:
        metrics.FRAMES_INGESTED.labels("repeat").inc()
        return accepted
    # Bytes first, then the event: a consumer never sees a key whose object is missing.
    await deps.store.put(object_key, data, media.mime)
    await deps.publisher.publish(
        frames_pb2.FrameIngested(
            frame_id=claim.frame_id,
            camera_id=camera_id,
            captured_at=timestamp(captured_at or claim.received_at),
            received_at=timestamp(claim.received_at),
            sha256=digest,
            size_bytes=len(data),
            media_type=media.mime,
            object_key=object_key,
        )
    )
    await deps.ledger.mark_published_async(camera_id, digest, claim.frame_id)
    metrics.FRAMES_INGESTED.labels("created").inc()
    metrics.BYTES_INGESTED.inc(len(data))
    return accepted


# Where each command goes: the HTTP and gRPC transports (http_api.py, grpc_api.py) send UploadFrame here.
HANDLERS = {UploadFrame: ingest_frame}
