"""labels.completed through an outbox: a task is marked done in the transaction that decides it,
then published and flagged, so a crash in between republishes it and never loses one (curate's
fold is idempotent). Replicas claim rows with FOR UPDATE SKIP LOCKED (PostgreSQL)."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection, Engine
from sqlalchemy.exc import OperationalError

from framesift.bus.base import BusUnavailableError
from framesift.bus.events import EventPublisher
from framesift.contracts.splits import Split, SplitSettings, split_of
from framesift.contracts.vocabulary import timestamp
from framesift.v1 import frames_pb2, labels_pb2

from .desk import TaskState
from .tables import LabelTask

TASKS = LabelTask.__table__
log = logging.getLogger(__name__)
_BATCH = 500
_VERDICTS = {
    None: labels_pb2.REVIEW_VERDICT_NOT_REVIEWED,
    "accepted": labels_pb2.REVIEW_VERDICT_ACCEPTED,
    "corrected": labels_pb2.REVIEW_VERDICT_CORRECTED,
}


def final_annotations(task: dict[str, Any]) -> list[dict[str, Any]]:
    """A corrected task's labels are the reviewer's (the labeller's stay in the review record)."""
    return task["review_annotations"] if task["verdict"] == "corrected" else task["annotations"]


def task_split(task: dict[str, Any], splits: SplitSettings) -> Split:
    """The split stored with the task; the hash draw for a task made before splits were stored."""
    return Split(task["split"]) if task.get("split") else split_of(task["frame_id"], splits)


def completed_event(task: dict[str, Any], splits: SplitSettings) -> labels_pb2.LabelsCompleted:
    """The task's labels.completed; for a withdrawal pending (labels deleted in the labelling tool
    after they were sent), the event that withdraws them."""
    withdrawn = task.get("withdrawn_at") is not None and task["state"] != TaskState.DONE.value
    annotations = [
        labels_pb2.Annotation(
            class_name=a["class"],
            class_id=a["class_id"],
            box=frames_pb2.Box(x_min=a["box"][0], y_min=a["box"][1], x_max=a["box"][2], y_max=a["box"][3]),
            from_prelabel=a["from_prelabel"],
            attributes=a["attributes"],
            track_id=a["track_id"],
        )
        for a in ([] if withdrawn else final_annotations(task))
    ]
    return labels_pb2.LabelsCompleted(
        frame_id=task["frame_id"],
        camera_id=task["camera_id"],
        task_id=task["task_id"],
        ontology_version=str(task["ontology_version"]),
        annotations=annotations,
        verdict=_VERDICTS[task["verdict"]],
        completed_at=timestamp(task["withdrawn_at"] if withdrawn else task["reviewed_at"] or task["submitted_at"]),
        labeller=task["labeller"] or "",
        reviewer=task["reviewer"] or "",
        frame_classes=task["frame_classes"],
        labelling_seconds=task["labelling_seconds"] or 0.0,
        had_prelabels=bool(task["prelabels"]),
        split=task_split(task, splits).value,
        width=task["width"],
        height=task["height"],
        captured_at=timestamp(task["captured_at"]),
        object_key=task["object_key"],
        withdrawn=withdrawn,
    )


class CompletedOutbox:
    """The call that finishes a task publishes its event at once (then flags it); a sweep
    publishes what such a call could not (the bus was down, the process died in between), for
    tasks done more than `grace_s` ago, so it rarely races a call still publishing (a race
    publishes twice, which at-least-once delivery allows)."""

    def __init__(self, engine: Engine, publisher: EventPublisher, splits: SplitSettings, grace_s: float = 10.0) -> None:
        self._engine, self._publisher, self._splits, self._grace_s = engine, publisher, splits, grace_s
        self._lock = asyncio.Lock()  # one sweep at a time in a process

    async def publish_done(self, task: dict[str, Any]) -> None:
        """The event of a task a call just finished, then its flag."""
        await self._publisher.publish(completed_event(task, self._splits))
        await asyncio.to_thread(self._mark_one, task["task_id"])

    def _mark_one(self, task_id: str) -> None:
        with self._engine.begin() as connection:
            _mark(connection, [task_id])

    async def publish(self, *, all_now: bool = True) -> int:
        """Publish done tasks not yet published (all, or those past the grace period), a batch
        per transaction; returns how many."""
        before = None if all_now else time.time() - self._grace_s
        total = 0
        async with self._lock:
            while batch := await self._publish_batch(before):
                total += batch
                if batch < _BATCH:
                    break
        return total

    async def _publish_batch(self, before: float | None) -> int:
        connection = await asyncio.to_thread(self._engine.connect)
        try:
            transaction = await asyncio.to_thread(connection.begin)
            pending = await asyncio.to_thread(_claim, connection, before)
            for task in pending:
                await self._publisher.publish(completed_event(task, self._splits))
            await asyncio.to_thread(_mark, connection, [t["task_id"] for t in pending])
            await asyncio.to_thread(transaction.commit)  # a failure before this: all republished
        finally:
            await asyncio.to_thread(connection.close)
        return len(pending)


async def publish_forever(outbox: CompletedOutbox, every_s: float = 5.0) -> None:
    """Publish what a failed publish left behind (the bus was down when a task became done)."""
    while True:
        await asyncio.sleep(every_s)
        try:
            await outbox.publish(all_now=False)
        except (BusUnavailableError, OperationalError) as exc:
            log.warning("labels.completed not published yet, will retry: %s", exc)


def _claim(connection: Connection, before: float | None) -> list[dict[str, Any]]:
    done = sa.and_(TASKS.c.state == TaskState.DONE.value, TASKS.c.published.is_(False))
    withdrawn = sa.and_(TASKS.c.state != TaskState.DONE.value, TASKS.c.withdrawn_at.is_not(None))
    if before is not None:
        done = sa.and_(done, sa.func.coalesce(TASKS.c.reviewed_at, TASKS.c.submitted_at) < before)
        withdrawn = sa.and_(withdrawn, TASKS.c.withdrawn_at < before)
    query = sa.select(TASKS).where(sa.or_(done, withdrawn))
    rows = connection.execute(query.order_by(TASKS.c.task_id).limit(_BATCH).with_for_update(skip_locked=True))
    return [dict(r) for r in rows.mappings()]


def _mark(connection: Connection, task_ids: list[str]) -> None:
    """Published: a done task's flag is set; a withdrawal is no longer pending."""
    if task_ids:
        chosen = TASKS.c.task_id.in_(task_ids)
        done = TASKS.c.state == TaskState.DONE.value
        connection.execute(TASKS.update().where(chosen, done).values(published=True))
        connection.execute(TASKS.update().where(chosen, ~done).values(withdrawn_at=None))
