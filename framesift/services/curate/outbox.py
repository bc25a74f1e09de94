"""frames.selected through an outbox: a decision is stored first, then published and marked, so a
crash in between republishes it and never loses one.

Each selection is published once: in a process one publisher runs at a time (the consumer path
and the idle-window closer both call it), and across replicas a publisher claims its rows with
FOR UPDATE SKIP LOCKED in the transaction that marks them (PostgreSQL; SQLite is one process).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection

from framesift.contracts.vocabulary import Status, frame_ref, timestamp
from framesift.v1 import frames_pb2

from .deps import CurateDeps
from .messages import detection, priority_parts
from .tables import CuratedFrame

FRAMES = CuratedFrame.__table__


async def publish_outbox(deps: CurateDeps) -> int:
    """Publish every stored selection not yet published (after a crash, too); returns how many."""
    async with deps.publishing:
        connection = await asyncio.to_thread(deps.engine.connect)
        try:
            transaction = await asyncio.to_thread(connection.begin)
            pending = await asyncio.to_thread(_claim, connection)
            points = [row["point_id"] for row in pending if row["point_id"]]
            await deps.vector_call(deps.vectors.set_status(points, "selected"))
            now = time.time()
            for row in pending:
                await deps.publisher.publish(selected_event(row, now))
            await asyncio.to_thread(_mark_published, connection, [row["frame_id"] for row in pending])
            await asyncio.to_thread(transaction.commit)  # a failure before this: all republished later
        finally:
            await asyncio.to_thread(connection.close)
    return len(pending)


def selected_event(row: dict[str, Any], selected_at: float) -> frames_pb2.FrameSelected:
    """The selection, with what labelling starts from: the detections curate folded in, the
    model that made them, and the image size."""
    model_name, _, model_version = (row["model"] or "").partition("/")
    metrics = row["metrics"] or {}
    return frames_pb2.FrameSelected(
        frame_id=row["frame_id"],
        camera_id=row["camera_id"],
        frame=frame_ref(row),
        priority=priority_parts(row),
        selection_batch=row["window_id"] or "",
        detections=[detection(d) for d in row["detections"] or ()],
        model_name=model_name,
        model_version=model_version,
        has_detector=bool(row["has_detector"]),
        width=int(metrics.get("width", 0)),
        height=int(metrics.get("height", 0)),
        selected_at=timestamp(selected_at),
    )


def _claim(connection: Connection) -> list[dict[str, Any]]:
    """The unpublished selections, locked for this transaction; rows another replica holds are skipped."""
    rows = connection.execute(
        sa.select(FRAMES)
        .where(FRAMES.c.status >= int(Status.SELECTED), FRAMES.c.window_id.is_not(None))
        .where(FRAMES.c.published.is_(False), FRAMES.c.decision.is_not(None))
        .order_by(FRAMES.c.window_id, FRAMES.c.frame_id)
        .with_for_update(skip_locked=True)
    ).mappings()
    return [dict(row) for row in rows]


def _mark_published(connection: Connection, frame_ids: list[str]) -> None:
    if frame_ids:
        connection.execute(FRAMES.update().where(FRAMES.c.frame_id.in_(frame_ids)).values(published=True))
