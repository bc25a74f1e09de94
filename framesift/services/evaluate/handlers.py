"""The evaluate service's use case per event: keep each labelled frame's truth, each model
version's detections and why curate chose the frame (idempotent folds, records.py)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import OperationalError

from framesift.bus.delivery import RetryableError
from framesift.contracts.codec import MalformedMessageError, require_frame_id
from framesift.contracts.identifiers import checked_key, validate_camera_id
from framesift.contracts.splits import Split
from framesift.v1 import frames_pb2, labels_pb2

from . import records

_SPLITS = {split.value for split in Split}


@dataclass
class EvaluateDeps:
    engine: Engine
    clock: Callable[[], float] = time.time


async def _write(deps: EvaluateDeps, write: Callable[[Connection], None]) -> None:
    def run() -> None:
        with deps.engine.begin() as connection:
            write(connection)

    try:
        await asyncio.to_thread(run)
    except OperationalError as exc:  # the database is down: retried until it is back, never dead-lettered
        raise RetryableError(f"database unavailable: {exc.orig or exc}") from exc


async def record_labels(event: labels_pb2.LabelsCompleted, deps: EvaluateDeps) -> None:
    frame_id = require_frame_id(event)
    try:
        validate_camera_id(event.camera_id)
        if event.object_key:
            checked_key(event.object_key)  # a key, never a path
    except ValueError as exc:
        raise MalformedMessageError(f"LabelsCompleted {frame_id!r}: {exc}") from exc
    if event.width <= 0 or event.height <= 0:
        raise MalformedMessageError(
            f"LabelsCompleted {frame_id!r}: no frame size (width/height), which boxes need to be scored"
        )
    if event.split not in _SPLITS:
        raise MalformedMessageError(
            f"LabelsCompleted {frame_id!r}: split {event.split!r} is not one of {sorted(_SPLITS)}"
        )
    await _write(deps, lambda connection: records.record_truth(connection, event))


async def record_detections(event: frames_pb2.FrameEmbedded, deps: EvaluateDeps) -> None:
    require_frame_id(event)
    if not event.has_detector:
        return  # the descriptor backend detects nothing: there is nothing of it to evaluate
    if not event.model_name or len(records.model_version(event)) > 256:
        raise MalformedMessageError(
            f"FrameEmbedded {event.frame_id!r}: a detector's model needs a name (256 characters at most)"
        )
    await _write(deps, lambda connection: records.record_predictions(connection, event, deps.clock()))


async def record_selected(event: frames_pb2.FrameSelected, deps: EvaluateDeps) -> None:
    require_frame_id(event)
    if len(event.selection_batch) > 64:
        raise MalformedMessageError(f"FrameSelected {event.frame_id!r}: selection_batch longer than 64 characters")
    await _write(deps, lambda connection: records.record_selection(connection, event))


HANDLERS = {
    labels_pb2.LabelsCompleted: record_labels,
    frames_pb2.FrameEmbedded: record_detections,
    frames_pb2.FrameSelected: record_selected,
}
