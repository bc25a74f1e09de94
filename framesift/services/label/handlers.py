"""The label service's use case per event: a selected frame becomes a task (once)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError

from framesift.bus.delivery import RetryableError
from framesift.contracts.codec import require_frame_fields
from framesift.v1 import frames_pb2

from .desk import create_task


@dataclass
class LabelDeps:
    engine: Engine
    clock: object  # () -> float


async def record_selected(event: frames_pb2.FrameSelected, deps: LabelDeps) -> None:
    require_frame_fields(event, event.camera_id, event.frame.object_key)

    def run() -> bool:
        with deps.engine.begin() as connection:
            return create_task(connection, event, deps.clock())

    try:
        await asyncio.to_thread(run)
    except OperationalError as exc:  # the database is down: retried until it is back, never dead-lettered
        raise RetryableError(f"database unavailable: {exc.orig or exc}") from exc


HANDLERS = {frames_pb2.FrameSelected: record_selected}
