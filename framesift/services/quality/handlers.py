"""Quality's use case: one FrameIngested in, one FrameChecked or FrameRejected out.

Idempotent: the decision is stored with the event it produced, so a redelivered frame republishes
that event instead of being judged again (which would call it a duplicate of itself).
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from concurrent.futures import Executor
from dataclasses import dataclass, field
from datetime import UTC, datetime

from google.protobuf.message import Message
from sqlalchemy.exc import OperationalError
from sqlmodel import Session

from framesift.bus.delivery import RetryableError
from framesift.bus.events import EventPublisher
from framesift.contracts.codec import require_frame_fields
from framesift.contracts.topics import FRAMES_CHECKED, FRAMES_REJECTED
from framesift.contracts.vocabulary import frame_ref
from framesift.platform.handlers import Staged
from framesift.runtime import metrics
from framesift.services.quality.settings import DedupScope, QualityThresholds
from framesift.store.base import ObjectStore, StoreUnavailableError
from framesift.v1 import frames_pb2

from .assess import Assessment, assess
from .registry import FrameRegistry
from .rules import pass_margins
from .tables import QualityFrame, pack_hashes
from .verdict import Verdict, is_original, judge

GLOBAL_SCOPE = "*"


class StoredBytesMismatchError(ValueError):
    """The object store returned bytes whose sha256 is not the one ingest announced."""


@dataclass
class QualityDeps:
    store: ObjectStore
    registry: FrameRegistry
    publisher: EventPublisher
    limits: QualityThresholds
    scope: DedupScope
    executor: Executor | None = None  # decode and measure off the event loop
    _locks: defaultdict[str, asyncio.Lock] = field(default_factory=lambda: defaultdict(asyncio.Lock))


def _scope_of(deps: QualityDeps, camera_id: str) -> str:
    return camera_id if deps.scope is DedupScope.CAMERA else GLOBAL_SCOPE


@dataclass(frozen=True)
class Measured:
    """What may be known of a frame before its turn: an earlier decision, or its assessment."""

    earlier: QualityFrame | None
    assessment: Assessment | None


async def measure_frame(event: frames_pb2.FrameIngested, deps: QualityDeps) -> Measured:
    """Look up an earlier decision, else fetch and assess the frame. No effect that counts, so it
    may run ahead of the frame's turn: the object read and the decode of the next frames overlap
    the decision on this one. (A decision another replica records meanwhile is caught at
    `record`, whose conflict returns the stored row.)"""
    require_frame_fields(event, event.camera_id, event.object_key)
    earlier = await asyncio.to_thread(deps.registry.decided, event.frame_id)
    if earlier is not None:
        return Measured(earlier, None)
    try:
        data = await deps.store.get(event.object_key)
    except StoreUnavailableError as exc:
        raise RetryableError(str(exc)) from exc
    loop = asyncio.get_running_loop()
    assessment = await loop.run_in_executor(deps.executor, assess, data, deps.limits)
    if event.sha256 and assessment.sha256 != event.sha256:  # assess hashed the bytes already
        raise StoredBytesMismatchError(f"object {event.object_key} does not hold the bytes with sha256 {event.sha256}")
    return Measured(None, assessment)


async def check_frame(event: frames_pb2.FrameIngested, deps: QualityDeps, measured: Measured | None = None) -> Message:
    """Decide on one ingested frame and publish the verdict; returns the published event.

    The event's fields were checked by `measure_frame`, here or ahead of this call."""
    try:
        outcome = await _decide(deps, event, measured or await measure_frame(event, deps))
    except OperationalError as exc:
        raise RetryableError(f"database unavailable: {exc.orig or exc}") from exc
    await deps.publisher.publish(outcome)
    return outcome


async def _decide(deps: QualityDeps, event: frames_pb2.FrameIngested, measured: Measured) -> Message:
    if measured.earlier is not None:
        return _stored_event(measured.earlier)
    assert measured.assessment is not None
    scope = _scope_of(deps, event.camera_id)
    # One decision at a time per scope: each must see the previous one's kept hash.
    async with deps._locks[scope]:
        row = await asyncio.to_thread(_judge_and_record, deps, event, measured.assessment, scope)
    metrics.QUALITY_DECISIONS.labels("checked" if row.kept else "rejected").inc()
    return _stored_event(row)


def _judge_and_record(
    deps: QualityDeps, event: frames_pb2.FrameIngested, assessment: Assessment, scope: str
) -> QualityFrame:
    # One session for the lookups and the record: one connection and transaction per decision.
    with deps.registry.unit() as session:
        return _judge_and_record_in(deps, event, assessment, scope, session)


def _judge_and_record_in(
    deps: QualityDeps, event: frames_pb2.FrameIngested, assessment: Assessment, scope: str, session: Session
) -> QualityFrame:
    size = assessment.size
    usual = deps.registry.observe_size(event.camera_id, size, deps.limits, session) if size is not None else None
    verdict = judge(assessment, deps.registry.lookup(scope, session), deps.limits, usual)
    outcome = verdict_event(event, assessment, verdict, deps.limits)
    row = QualityFrame(
        frame_id=event.frame_id,
        camera_id=event.camera_id,
        scope=scope,
        sha256=assessment.sha256,
        phashes=pack_hashes(assessment.phashes),
        kept=verdict.kept,
        original=is_original(assessment, verdict),
        event_type=outcome.DESCRIPTOR.full_name,
        event=outcome.SerializeToString(deterministic=True),
        decided_at=datetime.now(UTC),
    )
    stored = deps.registry.record(row, session)
    if stored is row:
        for reason in verdict.reasons:
            metrics.QUALITY_REASONS.labels(reason.value).inc()
    return stored


def verdict_event(
    event: frames_pb2.FrameIngested, assessment: Assessment, verdict: Verdict[str], limits: QualityThresholds
) -> Message:
    values = assessment.metric_values()
    if verdict.kept and assessment.metrics is not None:
        return frames_pb2.FrameChecked(
            frame_id=event.frame_id,
            camera_id=event.camera_id,
            frame=frame_ref(event),
            metrics=values,
            phash=assessment.phash or 0,
            width=assessment.metrics.width,
            height=assessment.metrics.height,
            margins=pass_margins(assessment.metrics, limits),
        )
    return frames_pb2.FrameRejected(
        frame_id=event.frame_id,
        camera_id=event.camera_id,
        frame=frame_ref(event),
        reasons=[reason.to_proto() for reason in verdict.reasons],
        metrics=values,
        duplicate_of=verdict.duplicate_of or "",
        detail=assessment.corrupt_detail or "",
    )


def _stored_event(row: QualityFrame) -> Message:
    for topic in (FRAMES_CHECKED, FRAMES_REJECTED):
        if topic.message_type.DESCRIPTOR.full_name == row.event_type:
            message = topic.message_type()
            message.ParseFromString(row.event)
            return message
    raise ValueError(f"stored decision of {row.frame_id} has unknown event type {row.event_type!r}")


# Where each event goes (framesift.platform.handlers turns this into the consumer).
HANDLERS = {frames_pb2.FrameIngested: Staged(prepare=measure_frame, decide=check_frame)}
