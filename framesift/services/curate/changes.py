"""Notifications of changed frames, for WatchFrames' server streams."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterable

import sqlalchemy as sa
from sqlalchemy import Connection, Engine

from framesift.runtime.retry import of_type, retrying

log = logging.getLogger(__name__)
# How long one wait for notifications lasts before the listener checks whether it was stopped.
_POLL_S = 1.0


class FrameChanges:
    def __init__(self, queue_size: int = 10_000) -> None:
        self._watchers: set[asyncio.Queue[str]] = set()
        self._queue_size = queue_size

    def publish(self, frame_ids: Iterable[str]) -> None:
        for queue in list(self._watchers):
            for frame_id in frame_ids:
                if queue.full():  # a watcher that does not read loses the oldest change, not the process
                    queue.get_nowait()
                queue.put_nowait(frame_id)

    async def watch(self) -> AsyncIterator[str]:
        queue: asyncio.Queue[str] = asyncio.Queue(self._queue_size)
        self._watchers.add(queue)
        try:
            while True:
                yield await queue.get()
        finally:
            self._watchers.discard(queue)


# On PostgreSQL every replica hears every change: each write announces its frames with
# pg_notify inside its transaction (delivered at commit, in commit order) and every replica
# LISTENs, so a WatchFrames stream sees changes made by any replica. SQLite is one process: the
# writer tells its own FrameChanges directly.
CHANNEL = "framesift_curated_frames"


def shared(engine: Engine) -> bool:
    return engine.dialect.name == "postgresql"


def announce(connection: Connection, frame_ids: Iterable[str]) -> None:
    """Inside the writing transaction: listeners hear of these frames once it commits."""
    if connection.dialect.name == "postgresql":
        for frame_id in frame_ids:
            connection.execute(
                sa.text("SELECT pg_notify(:channel, :frame_id)"), {"channel": CHANNEL, "frame_id": frame_id}
            )


async def listen(engine: Engine, changes: FrameChanges, *, backoff_s: float = 0.5, backoff_max_s: float = 10.0) -> None:
    """Feed `changes` from PostgreSQL notifications until cancelled; reconnects with backoff, the
    backoff starting again after each connection that worked."""
    import psycopg

    url = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    this_task = asyncio.current_task()
    while True:
        async for attempt in retrying(
            what="the change feed (PostgreSQL LISTEN)",
            retry_on=of_type(psycopg.OperationalError),
            attempts=None,
            backoff_s=backoff_s,
            backoff_max_s=backoff_max_s,
        ):
            with attempt:
                connection = await psycopg.AsyncConnection.connect(url, autocommit=True)
        try:
            async with connection:
                await connection.execute(f"LISTEN {CHANNEL}")
                while True:
                    # Bounded waits: psycopg can swallow a task's cancellation inside a wait
                    # (psycopg#1371), and a stop must not hang on it, so the loop looks itself.
                    async for note in connection.notifies(timeout=_POLL_S):
                        changes.publish([note.payload])
                    if this_task is not None and this_task.cancelling():
                        raise asyncio.CancelledError
        except psycopg.OperationalError as exc:
            log.warning("change feed lost, reconnecting", extra={"fields": {"error": str(exc)}})
