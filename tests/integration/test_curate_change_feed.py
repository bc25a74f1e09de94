"""WatchFrames across replicas: on PostgreSQL a change written by one curate replica reaches a
watcher connected to another (pg_notify in the writing transaction, LISTEN in every replica)."""

from __future__ import annotations

import asyncio
import itertools

from framesift.app.registry import create_schema
from framesift.services.curate.changes import FrameChanges, listen
from framesift.services.curate.deps import CurateDeps
from framesift.services.curate.handlers import record_ingested
from framesift.services.curate.queries import CurationApi
from framesift.services.curate.settings import CurateSettings
from framesift.sql.engine import make_engine
from framesift.v1 import frames_pb2
from tests.support.curation import fresh_postgres
from tests.support.waiting import eventually


def ingested(frame_id: str) -> frames_pb2.FrameIngested:
    event = frames_pb2.FrameIngested(
        frame_id=frame_id, camera_id="cam-feed", object_key=f"frames/cam-feed/{frame_id}.jpg", sha256="0" * 64
    )
    event.captured_at.GetCurrentTime()
    event.received_at.GetCurrentTime()
    return event


async def test_a_watcher_on_one_replica_hears_what_another_replica_wrote(postgres_url) -> None:
    with fresh_postgres(postgres_url) as url:
        engine = make_engine(url)
        create_schema(engine)
        settings = CurateSettings()
        # Replica A writes (only the projection is used: no vectors, no publishing needed).
        writer = CurateDeps(engine, vectors=None, publisher=None, settings=settings)  # type: ignore[arg-type]
        # Replica B serves the watch, fed only by the database's notifications.
        feed = FrameChanges()
        listener = asyncio.create_task(listen(engine, feed))
        api = CurationApi(engine, None, settings, feed, backend=lambda: None)  # type: ignore[arg-type]
        received: list = []

        async def read() -> None:
            async for record in api.watch("camera:cam-feed"):
                received.append(record)

        reader = asyncio.create_task(read())
        frame_ids = (f"frame-{i}" for i in itertools.count())

        async def heard() -> bool:
            # Until B listens and watches, a change is missed; write another until one is heard.
            if not received:
                await record_ingested(ingested(next(frame_ids)), writer)
            return bool(received)

        try:
            await eventually(heard, timeout=30, what="replica B to hear replica A's write")
            assert received[0].frame.camera_id == "cam-feed"
            assert received[0].frame.frame_id.startswith("frame-")
        finally:
            reader.cancel()
            listener.cancel()
            await asyncio.gather(reader, listener, return_exceptions=True)
            engine.dispose()


async def test_the_listener_stops_when_cancelled_while_waiting(postgres_url) -> None:
    """A stopping service cancels the listener while it waits for notifications; it must end
    promptly (its waits are bounded, so even a cancellation psycopg swallows is seen)."""
    with fresh_postgres(postgres_url) as url:
        engine = make_engine(url)
        changes = FrameChanges()
        task = asyncio.create_task(listen(engine, changes))
        await eventually(lambda: task.done() or _listening(url), timeout=20, what="the listener to LISTEN")
        task.cancel()
        done, _ = await asyncio.wait({task}, timeout=10)
        engine.dispose()
    assert task in done  # ended within the deadline
    assert task.cancelled()


def _listening(url: str) -> bool:
    import sqlalchemy as sa

    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            query = "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'LISTEN %' AND datname = current_database()"
            return connection.execute(sa.text(query)).scalar_one() > 0
    finally:
        engine.dispose()
