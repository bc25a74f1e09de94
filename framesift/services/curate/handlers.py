"""Curate's use cases, one per event: fold it into the read model; an embedded frame is scored,
joins its window, and may make windows due (selection_run.py chooses from them).

SQL work runs in threads (the event loop keeps serving gRPC).
"""

from __future__ import annotations

import logging
import time

import sqlalchemy as sa
from sqlalchemy.exc import OperationalError

from framesift.bus.base import Record
from framesift.bus.dead_letters import DeadLetter
from framesift.bus.delivery import RetryableError
from framesift.contracts.codec import MalformedMessageError, decode, require_frame_fields, require_frame_id
from framesift.contracts.topics import FRAMES_CHECKED, FRAMES_EMBEDDED, FRAMES_INGESTED, FRAMES_REJECTED, TOPICS
from framesift.contracts.vocabulary import frame_ref, seconds
from framesift.v1 import evaluation_pb2, frames_pb2, labels_pb2

from . import projection, scoring
from .deps import CurateDeps
from .selection_run import close_due_windows
from .tables import CuratedFrame
from .windows import join_window

FRAMES = CuratedFrame.__table__
log = logging.getLogger(__name__)


async def record_ingested(event: frames_pb2.FrameIngested, deps: CurateDeps) -> None:
    require_frame_fields(event, event.camera_id, event.object_key)
    await deps.write(projection.apply_ingested, event)
    deps.changed([event.frame_id])


async def record_checked(event: frames_pb2.FrameChecked, deps: CurateDeps) -> None:
    require_frame_fields(event, event.camera_id, event.frame.object_key)
    await deps.write(projection.apply_checked, event)
    deps.changed([event.frame_id])


async def record_rejected(event: frames_pb2.FrameRejected, deps: CurateDeps) -> None:
    require_frame_fields(event, event.camera_id, event.frame.object_key)
    await deps.write(projection.apply_rejected, event)
    deps.changed([event.frame_id])


async def record_labelled(event: labels_pb2.LabelsCompleted, deps: CurateDeps) -> None:
    require_frame_id(event)
    point_id = await deps.read(
        lambda connection: connection.execute(
            sa.select(FRAMES.c.point_id).where(FRAMES.c.frame_id == event.frame_id)
        ).scalar()
    )
    deps.forget_chosen()
    apply, status = (
        (projection.apply_withdrawn, "selected") if event.withdrawn else (projection.apply_labelled, "labelled")
    )
    if await deps.write(apply, event) and point_id:
        await deps.vector_call(deps.vectors.set_status([point_id], status))
    deps.changed([event.frame_id])


async def record_evaluated(event: evaluation_pb2.FrameEvaluated, deps: CurateDeps) -> None:
    require_frame_id(event)
    if len(event.model_version) > 256:
        raise MalformedMessageError(f"FrameEvaluated {event.frame_id!r}: model_version longer than 256 characters")
    if await deps.write(projection.apply_evaluated, event):
        deps.changed([event.frame_id])


async def record_embedded(event: frames_pb2.FrameEmbedded, deps: CurateDeps) -> None:
    """Provisional priority parts now (the window's final ones are computed when it closes)."""
    require_frame_fields(event, event.camera_id, event.frame.object_key)
    chosen = await deps.chosen()
    vectors = await deps.vector_call(deps.vectors.vectors([event.point_id]))
    prior = (await scoring.priors(deps, vectors, chosen)).get(event.point_id)
    parts = scoring.parts(
        deps,
        has_detector=event.has_detector,
        detections=[(d.class_name, float(d.score)) for d in event.detections],
        margins=dict(event.margins),
        prior=prior,
        chosen=chosen,
    )
    captured, window_s = seconds(event.frame.captured_at), deps.settings.window_s

    def join_and_record(connection, event, **columns) -> str:
        window = join_window(connection, captured, window_s)
        projection.apply_embedded(connection, event, window=window, **columns)
        return window

    window = await deps.write(
        join_and_record,
        event,
        uncertainty=parts.uncertainty,
        rarity=parts.rarity,
        novelty=parts.novelty,
        quality=parts.quality,
        priority=parts.total(deps.weights),
    )
    deps.joined[window] = time.monotonic()
    deps.changed([event.frame_id])
    await close_due_windows(deps)


async def record_dead_letter(record: Record, deps: CurateDeps) -> None:
    """A service gave up on a frame event (its dead-letter topic): the frame shows failed, and why,
    instead of looking in flight forever. A dead letter that names no valid frame is only logged."""
    letter = DeadLetter(record)
    topic = TOPICS.get(letter.original_topic)
    try:
        if topic is None:
            raise MalformedMessageError("it names no topic of framesift's")
        event = decode(topic, record.value, letter.original_headers())
        require_frame_fields(event, event.camera_id, _object_key(event))
    except MalformedMessageError as exc:
        log.info("a dead letter names no frame", extra={"fields": {"at": letter.where, "why": str(exc)}})
        return
    ref = frame_ref(event) if isinstance(event, frames_pb2.FrameIngested) else event.frame
    ref.frame_id, ref.camera_id = event.frame_id, event.camera_id
    failure = f"{letter.service} gave up after {letter.attempts} attempts: {letter.error}"
    try:
        await deps.write(lambda connection, _event: projection.apply_failure(connection, ref, failure), event)
    except OperationalError as exc:  # the database is down: retried until it is back, never dead-lettered
        raise RetryableError(f"database unavailable: {exc.orig or exc}") from exc
    deps.changed([event.frame_id])


def _object_key(event) -> str:
    return event.object_key if isinstance(event, frames_pb2.FrameIngested) else event.frame.object_key


# The dead-letter topics of the frame events curate records: a failure is shown on the frame.
DEAD_LETTER_TOPICS = [topic.dlq for topic in (FRAMES_INGESTED, FRAMES_CHECKED, FRAMES_REJECTED, FRAMES_EMBEDDED)]

# Where each event goes (framesift.platform.handlers turns this into curate's one consumer).
HANDLERS = {
    frames_pb2.FrameIngested: record_ingested,
    frames_pb2.FrameChecked: record_checked,
    frames_pb2.FrameRejected: record_rejected,
    frames_pb2.FrameEmbedded: record_embedded,
    labels_pb2.LabelsCompleted: record_labelled,
    evaluation_pb2.FrameEvaluated: record_evaluated,
}
