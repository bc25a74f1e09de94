"""frames.selected through an outbox: a decision is stored first, then published and marked, so a
crash in between republishes it and never loses one."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection

from framesift.contracts.vocabulary import Status, frame_ref
from framesift.v1 import frames_pb2

from .deps import CurateDeps
from .messages import priority_parts
from .tables import CuratedFrame

FRAMES = CuratedFrame.__table__


async def publish_outbox(deps: CurateDeps) -> int:
    """Publish every stored selection not yet published (after a crash, too)."""
    pending = await deps.read(_unpublished)
    await deps.vector_call(deps.vectors.set_status([row["point_id"] for row in pending if row["point_id"]], "selected"))
    for row in pending:
        await deps.publisher.publish(selected_event(row))
        await deps.read(lambda connection, frame_id=row["frame_id"]: _mark_published(connection, frame_id))
    return len(pending)


def selected_event(row: dict[str, Any]) -> frames_pb2.FrameSelected:
    return frames_pb2.FrameSelected(
        frame_id=row["frame_id"],
        camera_id=row["camera_id"],
        frame=frame_ref(row),
        priority=priority_parts(row),
        selection_batch=row["window_id"] or "",
    )


def _unpublished(connection: Connection) -> list[dict[str, Any]]:
    rows = connection.execute(
        sa.select(FRAMES)
        .where(FRAMES.c.status >= int(Status.SELECTED), FRAMES.c.window_id.is_not(None))
        .where(FRAMES.c.published.is_(False), FRAMES.c.decision.is_not(None))
        .order_by(FRAMES.c.window_id, FRAMES.c.frame_id)
    ).mappings()
    return [dict(row) for row in rows]


def _mark_published(connection: Connection, frame_id: str) -> None:
    connection.execute(FRAMES.update().where(FRAMES.c.frame_id == frame_id).values(published=True))
    connection.commit()
