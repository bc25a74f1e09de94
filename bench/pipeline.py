"""Pipeline throughput: frames/s from the first upload until every frame is decided downstream
(quality's verdict, and for kept frames embed's vector and curate's record), against quality's
scan alone on the same files in the same run.

Compared, in one run, on the same camera-like 1080p JPEGs:
  scan alone        the quality checks on a folder (`framesift scan --json --workers 1`), as a whole
                    command and in-process: the decode floor the pipeline is measured against
  embedded          ingest -> quality -> embed -> curate in one process on the embedded default
                    (durable in-process bus, local folder store, SQLite, Qdrant local mode)
  distributed       the same four services in one process on tansu (Kafka protocol) + moto (S3)
                    + PostgreSQL when it answers on 127.0.0.1:5432 (embed and curate share Qdrant's
                    local mode, which is one process per folder)
  as deployed       the same stack with a `framesift run` process per service (ingest; quality;
                    embed + curate, which share Qdrant's local folder), frames uploaded over HTTP
                    by 8 cameras each sending in order, as bench.faults does
  per stage         on the same distributed stack, each service alone on the backlog the stage
                    before left (ingest's uploads, then quality, embed, curate): where the time goes

Run: .venv/bin/python -m bench.pipeline [--frames 200] [--concurrency 8]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa

from bench.ingest import camera_like_frames, distributed_stack, timed
from framesift.app.registry import build_adapters, downstream_pipeline
from framesift.app.settings import Settings
from framesift.contracts.topics import FRAMES_CHECKED, FRAMES_EMBEDDED, FRAMES_REJECTED
from framesift.contracts.vocabulary import Status
from framesift.services.ingest.bootstrap import ingest_deps
from framesift.services.ingest.cameras import CameraRegistry
from framesift.services.ingest.handlers import UploadFrame, ingest_frame
from framesift.services.quality.scan import scan
from tests.support.running import running
from tests.support.waiting import eventually

DECIDED = [int(s) for s in (Status.REJECTED, Status.EMBEDDED, Status.SKIPPED, Status.SELECTED, Status.LABELLED)]


def decided(engine) -> int:
    with engine.connect() as connection:
        return int(
            connection.execute(
                sa.text("SELECT count(*) FROM curated_frames WHERE status IN :done").bindparams(
                    sa.bindparam("done", expanding=True)
                ),
                {"done": DECIDED},
            ).scalar_one()
        )


def scan_whole_command(folder: Path) -> float:
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "framesift", "scan", "--json", "--workers", "1", str(folder)],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return time.perf_counter() - started


def scan_in_process(folder: Path) -> float:
    from framesift.services.quality.settings import QualitySettings

    files = sorted(folder.glob("*.jpg"))
    started = time.perf_counter()
    for _ in scan(files, QualitySettings(), workers=1):
        pass
    return time.perf_counter() - started


async def embedded(frames: list[bytes], concurrency: int, root: Path) -> float:
    adapters = build_adapters(Settings(data_dir=root / "embedded"))
    await adapters.start()
    CameraRegistry(adapters.engine).add("cam-1")
    await adapters.bus.start()
    deps = ingest_deps(adapters, adapters.settings.ingest)
    try:
        async with downstream_pipeline(adapters) as pipeline:
            started = time.perf_counter()
            await timed(frames, concurrency, lambda f: ingest_frame(UploadFrame("cam-1", f), deps))
            await pipeline.drain()  # every frame judged and embedded (windows stay open: not timed)
            seconds = time.perf_counter() - started
        assert decided(adapters.engine) == len(frames)
        return seconds
    finally:
        await adapters.bus.stop()
        adapters.close()


async def distributed(frames: list[bytes], concurrency: int, root: Path) -> tuple[float, str]:
    with distributed_stack(root, http_port=0, grpc_port=0, log_level="WARNING") as (settings, label):
        adapters = build_adapters(settings)
        try:
            async with running(adapters, ["ingest", "quality", "embed", "curate"]):
                CameraRegistry(adapters.engine).add("cam-1")
                deps = ingest_deps(adapters, adapters.settings.ingest)
                started = time.perf_counter()
                await timed(frames, concurrency, lambda f: ingest_frame(UploadFrame("cam-1", f), deps))
                await eventually(lambda: decided(adapters.engine) == len(frames), timeout=600, what="all decided")
                seconds = time.perf_counter() - started
        finally:
            adapters.close()
    return seconds, label


async def as_deployed(frames: list[bytes], root: Path, cameras: int = 8) -> tuple[float, str]:
    """First upload to every frame decided, each service its own process, uploads over HTTP."""
    from bench import faults
    from framesift.app.registry import create_schema
    from framesift.bus.kafka import KafkaBus
    from framesift.contracts.topics import all_topic_names
    from framesift.sql.engine import make_engine

    groups = {"ingest": ["ingest"], "quality": ["quality"], "embed+curate": ["embed", "curate"]}
    with distributed_stack(root / "deployed") as (settings, label):
        engine = make_engine(settings.sql_url)
        create_schema(engine)
        names = [f"cam-{i}" for i in range(cameras)]
        keys = {name: CameraRegistry(engine).add(name) for name in names}
        start = time.time() - len(frames)
        items = [faults.Upload(names[i % cameras], data, start + i) for i, data in enumerate(frames)]
        admin = KafkaBus(settings, client_id="bench-pipeline")
        await admin.start()
        await admin.ensure_topics(all_topic_names())
        services, ports = faults.start_services(settings, groups, root, "bench-operator")
        try:
            for port in ports.values():
                await faults.wait_http(f"http://127.0.0.1:{port}")

            async def nothing(_done: int) -> None:
                return None

            started = time.perf_counter()
            answers = await faults.upload_all(f"http://127.0.0.1:{ports['ingest']}", keys, items, nothing)
            assert answers.ok == len(frames), answers
            await eventually(
                lambda: len(faults.decided(engine, answers.frame_ids)) == len(answers.frame_ids),
                timeout=600,
                what="all decided",
            )
            seconds = time.perf_counter() - started
        finally:
            for service in services.values():
                service.stop()
            await admin.stop()
            engine.dispose()
    return seconds, f"{label}, a process per service, {cameras} cameras over HTTP"


async def stages(frames: list[bytes], concurrency: int, root: Path) -> list[tuple[str, float]]:
    """Each stage alone on its input backlog: frames/s of ingest, quality, embed and curate."""
    rows = []
    with distributed_stack(root, http_port=0, grpc_port=0, log_level="WARNING") as (settings, label):
        adapters = build_adapters(settings)
        await adapters.start()
        await adapters.bus.start()
        depth = adapters.bus.depth
        try:
            CameraRegistry(adapters.engine).add("cam-1")
            deps = ingest_deps(adapters, adapters.settings.ingest)
            started = time.perf_counter()
            await timed(frames, concurrency, lambda f: ingest_frame(UploadFrame("cam-1", f), deps))
            rows.append((f"  ingest alone ({label})", time.perf_counter() - started))

            async def judged() -> bool:
                return await depth(FRAMES_CHECKED.name) + await depth(FRAMES_REJECTED.name) >= len(frames)

            async def embedded() -> bool:
                return await depth(FRAMES_EMBEDDED.name) >= await depth(FRAMES_CHECKED.name)

            async def curated() -> bool:
                return decided(adapters.engine) == len(frames)

            for name, done in (("quality", judged), ("embed", embedded), ("curate", curated)):
                started = time.perf_counter()
                async with running(adapters, [name]):
                    await eventually(done, timeout=600, what=f"{name} done")
                rows.append((f"  {name} alone, on the backlog", time.perf_counter() - started))
        finally:
            await adapters.bus.stop()
            adapters.close()
    return rows


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--size", default="1920x1080")
    args = parser.parse_args()
    width, height = map(int, args.size.split("x"))
    frames = camera_like_frames(args.frames, width, height)
    print(f"{len(frames)} JPEG frames {width}x{height} q90, concurrency {args.concurrency}, {os.cpu_count()} CPUs\n")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        folder = root / "files"
        folder.mkdir()
        for i, frame in enumerate(frames):
            (folder / f"{i:05d}.jpg").write_bytes(frame)
        rows = [
            ("scan alone, whole command (baseline)", scan_whole_command(folder)),
            ("scan alone, in-process", scan_in_process(folder)),
            ("embedded: ingest -> quality -> embed -> curate", await embedded(frames, args.concurrency, root)),
        ]
        seconds, label = await distributed(frames, args.concurrency, root)
        rows.append((f"distributed: {label}", seconds))
        seconds, label = await as_deployed(frames, root)
        rows.append((f"as deployed: {label}", seconds))
        rows.extend(await stages(frames, args.concurrency, root))
    baseline = len(frames) / rows[0][1]
    width = max(len(name) for name, _ in rows)
    print(f"| {'path':<{width}} | {'frames/s':>9} | {'vs scan alone':>13} |")
    print(f"|{'-' * (width + 2)}|{'-' * 11}|{'-' * 15}|")
    for name, seconds in rows:
        rate = len(frames) / seconds
        print(f"| {name:<{width}} | {rate:>9.1f} | {rate / baseline:>12.2f}x |")


if __name__ == "__main__":
    asyncio.run(main())
