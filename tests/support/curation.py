"""A small real dataset through ingest -> quality -> embed (-> curate) on the embedded default."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy import create_engine

from framesift.app.registry import build_adapters, downstream_pipeline
from framesift.app.settings import Settings
from framesift.services.ingest.bootstrap import ingest_deps
from framesift.services.ingest.cameras import CameraRegistry
from framesift.services.ingest.handlers import UploadFrame, ingest_frame
from tests.support.scenes import encode, scaled_luma, scene

START = datetime(2026, 11, 25, 6, 0, tzinfo=UTC)


def uploads(camera_id: str, count: int = 12, step_s: float = 600) -> list[UploadFrame]:
    """`count` distinct scenes `step_s` apart, then a dark frame and a truncated one."""
    frames = [
        UploadFrame(camera_id, encode(scene(640, 360, seed=100 + i)), START + timedelta(seconds=i * step_s))
        for i in range(count)
    ]
    late = START + timedelta(seconds=count * step_s)
    frames.append(UploadFrame(camera_id, encode(scaled_luma(scene(640, 360, seed=7), 0.04)), late))
    frames.append(UploadFrame(camera_id, encode(scene(640, 360, seed=8))[:3000], late + timedelta(seconds=1)))
    return frames


async def run_pipeline(settings: Settings, frames: list[UploadFrame]) -> list[str]:
    """Every frame through the embedded pipeline (all services after ingest); returns frame ids."""
    adapters = build_adapters(settings)
    await adapters.start()
    registry = CameraRegistry(adapters.engine)
    for camera in {frame.camera_id for frame in frames}:
        if not registry.exists(camera):
            registry.add(camera)
    await adapters.bus.start()
    ids = []
    try:
        deps = ingest_deps(adapters, adapters.settings.ingest)
        async with downstream_pipeline(adapters) as pipeline:
            for frame in frames:
                ids.append((await ingest_frame(frame, deps)).frame_id)
            await pipeline.finish()
    finally:
        await adapters.bus.stop()
        adapters.close()
    return ids


@contextmanager
def fresh_postgres(admin_url: str) -> Iterator[str]:
    name = f"framesift_curate_{uuid.uuid4().hex[:10]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield admin_url.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def insert_frame(connection, frame_id: str, **columns) -> None:
    """One read-model row with every required column, as a test sets it up directly in SQL."""
    from framesift.contracts.vocabulary import Status
    from framesift.services.curate.tables import CuratedFrame

    values = {
        "frame_id": frame_id,
        "camera_id": "cam",
        "captured_at": 0.0,
        "object_key": "k",
        "sha256": "",
        "status": int(Status.INGESTED),
        "reasons": "",
        "metrics": {},
        "margins": {},
        "detections": [],
        "has_detector": False,
        "classes": "",
        "published": False,
        "updated_at": 0.0,
        **columns,
    }
    connection.execute(sa.insert(CuratedFrame.__table__).values(**values))
