"""Ingest throughput: frames/s and MB/s through ingest -> object store -> bus.

Compared, in one run, on the same bytes:
  baseline  raw write of the bytes to files (no fsync, and with fsync like the local store)
  embedded  the ingest use case on the embedded default (in-process bus, local folder, SQLite)
  embedded over HTTP   the same behind the real HTTP server, uploads from a client
  distributed          the ingest use case on tansu (Kafka protocol) + moto (S3 over HTTP)
                       + PostgreSQL when it answers on 127.0.0.1:5432 (else SQLite)

Run: .venv/bin/python -m bench.ingest [--frames 300] [--concurrency 8]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import os
import socket
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import httpx
import numpy as np
from PIL import Image
from pydantic import SecretStr

from framesift.app.registry import build_adapters
from framesift.app.settings import Settings
from framesift.runtime.settings import BusKind, StoreKind
from framesift.services.ingest.bootstrap import ingest_deps
from framesift.services.ingest.cameras import CameraRegistry
from framesift.services.ingest.handlers import UploadFrame, ingest_frame
from tests.support.running import running
from tests.support.servers import MotoS3, TansuBroker


def camera_like_frames(count: int, width: int, height: int) -> list[bytes]:
    """1080p JPEGs (quality 90) of a textured scene with a moving object and sensor noise."""
    rng = np.random.default_rng(7)
    y, x = np.mgrid[0:height, 0:width]
    scene = (np.sin(x / 37.0) * 40 + np.cos(y / 23.0) * 40 + 128).astype(np.float32)
    frames = []
    for i in range(count):
        image = np.repeat(scene[:, :, None], 3, axis=2)
        left = (i * 17) % (width - 200)
        image[300:500, left : left + 200] = (200, 60 + i % 100, 40)
        image += rng.normal(0, 6, image.shape).astype(np.float32)
        buffer = io.BytesIO()
        Image.fromarray(np.clip(image, 0, 255).astype(np.uint8)).save(buffer, format="JPEG", quality=90)
        frames.append(buffer.getvalue())
    return frames


async def timed(frames: list[bytes], concurrency: int, upload: Callable[[bytes], Awaitable[None]]) -> float:
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for frame in frames:
        queue.put_nowait(frame)

    async def worker() -> None:
        while not queue.empty():
            await upload(queue.get_nowait())

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - started


def raw_write(frames: list[bytes], directory: Path, *, fsync: bool) -> float:
    directory.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    for i, frame in enumerate(frames):
        with open(directory / f"{i}.jpg", "wb") as handle:
            handle.write(frame)
            if fsync:
                handle.flush()
                os.fsync(handle.fileno())
    return time.perf_counter() - started


def postgres_available() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=0.5):
            return True
    except OSError:
        return False


async def embedded(frames: list[bytes], concurrency: int, root: Path) -> float:
    adapters = build_adapters(Settings(data_dir=root / "embedded"))
    await adapters.start()
    await adapters.bus.start()
    deps = ingest_deps(adapters, adapters.settings.ingest)
    try:
        return await timed(frames, concurrency, lambda f: ingest_frame(UploadFrame("cam-1", f), deps))
    finally:
        adapters.close()


async def embedded_http(frames: list[bytes], concurrency: int, root: Path) -> float:
    adapters = build_adapters(Settings(data_dir=root / "http", http_port=0, grpc_port=0, log_level="WARNING"))
    await adapters.start()
    key = CameraRegistry(adapters.engine).add("cam-1")
    try:
        async with running(adapters) as runner:
            async with httpx.AsyncClient(
                base_url=f"http://127.0.0.1:{runner.http_port}",
                headers={"Authorization": f"Bearer {key}"},
                timeout=60,
                limits=httpx.Limits(max_connections=concurrency),
            ) as client:

                async def upload(frame: bytes) -> None:
                    response = await client.post("/v1/cameras/cam-1/frames", content=frame)
                    response.raise_for_status()

                return await timed(frames, concurrency, upload)
    finally:
        adapters.close()


@contextlib.contextmanager
def distributed_stack(root: Path, **overrides) -> Iterator[tuple[Settings, str]]:
    """tansu + moto S3 (+ a fresh PostgreSQL database when one answers), and settings for them."""
    broker, s3 = TansuBroker().start(), MotoS3(own_process=True).start()
    database = None
    if postgres_available():
        from sqlalchemy import create_engine, text

        database = f"framesift_bench_{uuid.uuid4().hex[:8]}"
        admin = create_engine("postgresql+psycopg://postgres@127.0.0.1:5432/test", isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{database}"'))
    settings = Settings(
        data_dir=root / "distributed",
        bus=BusKind.KAFKA,
        kafka_bootstrap_servers=broker.bootstrap,
        kafka_idempotence=False,
        store=StoreKind.S3,
        s3_endpoint=s3.endpoint,
        s3_secure=False,
        s3_region="us-east-1",
        s3_access_key=SecretStr("bench"),
        s3_secret_key=SecretStr("bench"),
        database_url=f"postgresql+psycopg://postgres@127.0.0.1:5432/{database}" if database else None,
        **overrides,
    )
    try:
        yield settings, "tansu + moto S3 + " + ("PostgreSQL" if database else "SQLite")
    finally:
        broker.stop()
        s3.stop()
        if database:
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))


async def distributed(frames: list[bytes], concurrency: int, root: Path) -> tuple[float, str]:
    with distributed_stack(root) as (settings, label):
        adapters = build_adapters(settings)
        await adapters.start()
        await adapters.bus.start()
        await adapters.bus.ensure_topics(["frames.ingested"])
        deps = ingest_deps(adapters, adapters.settings.ingest)
        try:
            seconds = await timed(frames, concurrency, lambda f: ingest_frame(UploadFrame("cam-1", f), deps))
        finally:
            await adapters.bus.stop()
            adapters.close()
    return seconds, label


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--size", default="1920x1080")
    args = parser.parse_args()
    width, height = map(int, args.size.split("x"))
    frames = camera_like_frames(args.frames, width, height)
    megabytes = sum(map(len, frames)) / 1e6
    print(
        f"{len(frames)} JPEG frames {width}x{height} q90, {megabytes:.1f} MB "
        f"(mean {megabytes * 1000 / len(frames):.0f} KB), concurrency {args.concurrency}, {os.cpu_count()} CPUs\n"
    )
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        rows = [
            ("baseline: raw file writes", raw_write(frames, root / "raw", fsync=False)),
            ("baseline: raw file writes + fsync", raw_write(frames, root / "raw-fsync", fsync=True)),
            ("embedded: ingest use case", await embedded(frames, args.concurrency, root)),
            ("embedded: over HTTP", await embedded_http(frames, args.concurrency, root)),
        ]
        seconds, label = await distributed(frames, args.concurrency, root)
        rows.append((f"distributed: {label}", seconds))
    baseline = rows[1][1]
    print(f"| {'path':<52} | {'frames/s':>9} | {'MB/s':>7} | {'time vs fsync baseline':>22} |")
    print(f"|{'-' * 54}|{'-' * 11}|{'-' * 9}|{'-' * 24}|")
    for name, seconds in rows:
        print(
            f"| {name:<52} | {len(frames) / seconds:>9.1f} | {megabytes / seconds:>7.1f} | "
            f"{seconds / baseline:>21.2f}x |"
        )


if __name__ == "__main__":
    asyncio.run(main())
