"""Events -> the curation read model. Every function is idempotent and order-tolerant.

Each event writes only the columns it owns, and the status only moves forward (an atomic
`max`), so a replay, a redelivery, or topics consumed in any interleaving give the same rows.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError

from framesift.contracts.vocabulary import Status, frame_ref, reason_names
from framesift.contracts.vocabulary import seconds as _seconds
from framesift.sql.columns import packed
from framesift.v1 import evaluation_pb2, frames_pb2, labels_pb2

from .tables import CuratedFrame

FRAMES = CuratedFrame.__table__


def _ensure(connection: Connection, frame: frames_pb2.FrameRef, frame_id: str, camera_id: str) -> None:
    """The row exists (whichever of its events comes first creates it)."""
    exists = connection.execute(sa.select(FRAMES.c.frame_id).where(FRAMES.c.frame_id == frame_id)).first()
    if exists:
        return
    values = {
        "frame_id": frame_id,
        "camera_id": camera_id or frame.camera_id,
        "captured_at": _seconds(frame.captured_at),
        "object_key": frame.object_key,
        "sha256": frame.sha256,
        "status": Status.INGESTED,
        "reasons": "",
        "metrics": {},
        "margins": {},
        "detections": [],
        "has_detector": False,
        "classes": "",
        "published": False,
        "updated_at": 0.0,
    }
    try:
        with connection.begin_nested():
            connection.execute(FRAMES.insert().values(**values))
    except IntegrityError:
        pass  # another consumer created it a moment ago


def _update(connection: Connection, frame_id: str, status: Status, at: float, **columns: Any) -> int:
    """Move the frame forward to `status` (never back) and set `columns`; returns rows changed."""
    return connection.execute(
        FRAMES.update()
        .where(FRAMES.c.frame_id == frame_id)
        .values(
            status=sa.case((FRAMES.c.status < int(status), int(status)), else_=FRAMES.c.status),
            updated_at=sa.case((FRAMES.c.updated_at < at, at), else_=FRAMES.c.updated_at),
            **columns,
        )
    ).rowcount


def apply_ingested(connection: Connection, event: frames_pb2.FrameIngested) -> None:
    _ensure(connection, frame_ref(event), event.frame_id, event.camera_id)
    _update(connection, event.frame_id, Status.INGESTED, _seconds(event.received_at))


def apply_checked(connection: Connection, event: frames_pb2.FrameChecked) -> None:
    _ensure(connection, event.frame, event.frame_id, event.camera_id)
    _update(
        connection,
        event.frame_id,
        Status.CHECKED,
        _seconds(event.frame.captured_at),
        metrics=dict(event.metrics),
        margins=dict(event.margins),
        failure=None,
    )


def apply_rejected(connection: Connection, event: frames_pb2.FrameRejected) -> None:
    _ensure(connection, event.frame, event.frame_id, event.camera_id)
    _update(
        connection,
        event.frame_id,
        Status.REJECTED,
        _seconds(event.frame.captured_at),
        metrics=dict(event.metrics),
        reasons=packed(reason_names(event.reasons)),
        duplicate_of=event.duplicate_of or None,
        failure=None,
    )


def _while_undecided(column: str, value: Any) -> Any:
    """A column selection owns once it decided: set it only while the frame waits for its window."""
    return sa.case((FRAMES.c.status <= int(Status.EMBEDDED), value), else_=FRAMES.c[column])


def apply_embedded(connection: Connection, event: frames_pb2.FrameEmbedded, *, window: str, **parts: Any) -> None:
    """`parts`: the priority parts known at embedding time; `window`: the one the frame joins
    (kept if it joined one already, so a redelivery does not move it)."""
    _ensure(connection, event.frame, event.frame_id, event.camera_id)
    detections = [
        {
            "class": d.class_name,
            "score": round(float(d.score), 6),
            "box": [round(float(v), 6) for v in (d.box.x_min, d.box.y_min, d.box.x_max, d.box.y_max)],
        }
        for d in event.detections
    ]
    _update(
        connection,
        event.frame_id,
        Status.EMBEDDED,
        _seconds(event.frame.captured_at),
        model=f"{event.model_name}/{event.model_version}",
        has_detector=event.has_detector,
        point_id=event.point_id,
        metrics=dict(event.metrics),
        margins=dict(event.margins),
        detections=detections,
        classes=packed(d.class_name for d in event.detections),
        window_id=sa.func.coalesce(FRAMES.c.window_id, window),
        failure=None,
        **{name: _while_undecided(name, value) for name, value in parts.items()},
    )


def apply_labelled(connection: Connection, event: labels_pb2.LabelsCompleted) -> bool:
    """False when the frame is unknown here (labels for a frame curate never saw: nothing to move)."""
    return (
        _update(
            connection,
            event.frame_id,
            Status.LABELLED,
            _seconds(event.completed_at),
            review_verdict=verdict_name(event),
        )
        > 0
    )


def apply_withdrawn(connection: Connection, event: labels_pb2.LabelsCompleted) -> bool:
    """The frame's labels were withdrawn (deleted in the labelling tool): a labelled frame is
    selected again, waiting for new labels. The one step back the status takes; labels.completed
    is keyed by frame, so a frame's labelled and withdrawn events arrive in their order."""
    at = _seconds(event.completed_at)
    return (
        connection.execute(
            FRAMES.update()
            .where(FRAMES.c.frame_id == event.frame_id, FRAMES.c.status == int(Status.LABELLED))
            .values(
                status=int(Status.SELECTED),
                review_verdict=None,
                updated_at=sa.case((FRAMES.c.updated_at < at, at), else_=FRAMES.c.updated_at),
            )
        ).rowcount
        > 0
    )


def verdict_name(event: labels_pb2.LabelsCompleted) -> str | None:
    """`accepted`, `corrected` or `not_reviewed` (the query language's review: values)."""
    if event.verdict == labels_pb2.REVIEW_VERDICT_UNSPECIFIED:
        return None
    return labels_pb2.ReviewVerdict.Name(event.verdict).removeprefix("REVIEW_VERDICT_").lower()


def apply_evaluated(connection: Connection, event: evaluation_pb2.FrameEvaluated) -> bool:
    """The run's outcome on the frame, unless a later run's is already here (runs arrive in any
    order on a replay); False when the frame is unknown here."""
    at = _seconds(event.evaluated_at)
    newer = sa.or_(FRAMES.c.eval_at.is_(None), FRAMES.c.eval_at <= at)
    changed = connection.execute(
        FRAMES.update()
        .where(FRAMES.c.frame_id == event.frame_id, newer)
        .values(eval_tp=event.tp, eval_fp=event.fp, eval_fn=event.fn, eval_at=at, eval_model=event.model_version)
    )
    return changed.rowcount > 0


def apply_failure(connection: Connection, frame: frames_pb2.FrameRef, failure: str) -> None:
    """A service dead-lettered an event about this frame; the status stays where it was."""
    _ensure(connection, frame, frame.frame_id, frame.camera_id)
    connection.execute(FRAMES.update().where(FRAMES.c.frame_id == frame.frame_id).values(failure=failure[:1000]))
