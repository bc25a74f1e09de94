"""The label service's use case per event: a selected frame becomes a task (once)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError

from framesift.bus.delivery import RetryableError
from framesift.contracts.codec import MalformedMessageError, require_frame_fields, require_frame_id
from framesift.contracts.splits import SplitSettings
from framesift.v1 import evaluation_pb2, frames_pb2

from . import review
from .desk import TASKS, create_task, send_to_review

# evaluate's issue types -> the QA flag a reviewer sees (a model disagrees with the labels).
MODEL_FLAGS = {"overlooked": "model_overlooked", "badly_located": "model_badly_located", "swapped": "model_swapped"}


@dataclass
class LabelDeps:
    engine: Engine
    clock: object  # () -> float
    splits: SplitSettings = field(default_factory=SplitSettings)


async def record_selected(event: frames_pb2.FrameSelected, deps: LabelDeps) -> None:
    require_frame_fields(event, event.camera_id, event.frame.object_key)

    def run() -> bool:
        with deps.engine.begin() as connection:
            return create_task(connection, event, deps.clock(), deps.splits)

    try:
        await asyncio.to_thread(run)
    except OperationalError as exc:  # the database is down: retried until it is back, never dead-lettered
        raise RetryableError(f"database unavailable: {exc.orig or exc}") from exc


async def record_flagged(event: evaluation_pb2.LabelFlagged, deps: LabelDeps) -> None:
    """A label a model disagrees with goes to review (if nobody reviewed it yet), flagged with
    the issue; a replay flags it once."""
    require_frame_id(event)
    flag = MODEL_FLAGS.get(event.issue)
    if flag is None:
        raise MalformedMessageError(
            f"LabelFlagged {event.frame_id!r}: issue {event.issue!r} is not one of {sorted(MODEL_FLAGS)}"
        )

    def run() -> int:
        with deps.engine.begin() as connection:
            return send_to_review(connection, TASKS.c.frame_id == event.frame_id, flag, review.LABEL_ERROR)

    try:
        await asyncio.to_thread(run)
    except OperationalError as exc:
        raise RetryableError(f"database unavailable: {exc.orig or exc}") from exc


HANDLERS = {frames_pb2.FrameSelected: record_selected, evaluation_pb2.LabelFlagged: record_flagged}
