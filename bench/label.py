"""Label: task creation from frames.selected, labelling round trips under concurrency, exports.

Task creation: 10 k FrameSelected events (with 0-4 pre-labels each) consumed by the label
service's real consumer on the durable in-process bus, into SQLite and PostgreSQL; baseline: the
same 10 k rows in one executemany INSERT in the same run (the SQL floor).

Round trips: 8 labellers at once, each looping next-task then submit (two boxes) on PostgreSQL
with labels.completed on tansu (Kafka protocol), through the HTTP API of a running label service
(httpx clients in the same process as the server) and, as the baseline, through the desk
directly in 8 threads (no HTTP, no auth, no publishing). p50/p99
are per round trip (next + submit). Review sampling is on (rate 0.1) as in production.

Exports: 10 k done tasks (2-6 boxes each) exported as COCO and YOLO without images (the frames
stay in the object store; copying them is the store's speed, not the exporter's), each in a
process of its own for its peak RSS; baseline: a script reading the same rows and writing the
same COCO JSON (and YOLO files) with the json module and plain file writes.

Run: .venv/bin/python -m bench.label [--frames 10000] [--seconds 20] [--postgres URL]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import sqlalchemy as sa
from pydantic import SecretStr

from bench.ingest import distributed_stack
from framesift.app.registry import build_adapters, create_schema
from framesift.app.settings import Settings
from framesift.contracts.codec import encode
from framesift.contracts.topics import FRAMES_SELECTED
from framesift.contracts.vocabulary import timestamp
from framesift.platform.embedded import EmbeddedPipeline
from framesift.platform.runner import retry_policy
from framesift.services.label import bootstrap as label_bootstrap
from framesift.services.label.desk import TASKS, LabelDesk, task_row
from framesift.services.label.labellers import Labellers
from framesift.services.label.ontology import parse
from framesift.services.label.ontology_store import apply
from framesift.services.label.settings import LabelSettings
from framesift.sql.engine import make_engine
from framesift.v1 import frames_pb2
from tests.support.curation import fresh_postgres
from tests.support.running import running

CLASSES = ["car", "person", "bicycle", "bus", "truck"]
ONTOLOGY = {"classes": [{"name": name} for name in CLASSES]}
TOKEN = "bench-operator-token"


def selected_events(count: int, seed: int = 7) -> list[frames_pb2.FrameSelected]:
    rng = random.Random(seed)
    events = []
    for i in range(count):
        frame_id = f"bench-frame-{i:06d}"
        camera = f"cam-{i % 40:02d}"
        digest = f"{i:064x}"
        detections = []
        for _ in range(rng.randint(0, 4)):
            x, y = rng.uniform(0, 0.8), rng.uniform(0, 0.8)
            box = frames_pb2.Box(x_min=x, y_min=y, x_max=x + rng.uniform(0.05, 0.2), y_max=y + rng.uniform(0.05, 0.2))
            detections.append(frames_pb2.Detection(class_name=rng.choice(CLASSES), score=rng.random(), box=box))
        events.append(
            frames_pb2.FrameSelected(
                frame_id=frame_id, camera_id=camera,
                frame=frames_pb2.FrameRef(frame_id=frame_id, camera_id=camera,
                                          captured_at=timestamp(1_795_000_000.0 + i), sha256=digest,
                                          object_key=f"frames/{camera}/{digest[:2]}/{digest}.jpg"),
                priority=frames_pb2.Priority(total=rng.random()), selection_batch=f"w{i // 500}",
                detections=detections, model_name="bench-detector", model_version="1", has_detector=True,
                width=1920, height=1080, selected_at=timestamp(1_796_000_000.0 + i),
            )
        )  # fmt: skip
    return events


def count_tasks(engine) -> int:
    with engine.connect() as connection:
        return connection.execute(sa.select(sa.func.count()).select_from(TASKS)).scalar_one()


async def consumer_rate(url: str, events: list[frames_pb2.FrameSelected], data_dir: Path) -> float:
    settings = Settings(data_dir=data_dir, database_url=url, log_json=False)
    adapters = build_adapters(settings, services=["label"])
    await adapters.start()
    await adapters.bus.start()
    unit = label_bootstrap.build(adapters, settings.label)
    unit.background.clear()  # the outbox retry loop: nothing to publish here
    try:
        async with EmbeddedPipeline(adapters.bus, [unit], retry_policy(settings)) as pipeline:
            started = time.perf_counter()
            for event in events:
                key, value, headers = encode(event)
                await adapters.bus.publish(FRAMES_SELECTED.name, key, value, headers)
            await pipeline.drain()
            seconds = time.perf_counter() - started
        assert count_tasks(adapters.engine) == len(events)
    finally:
        await adapters.bus.stop()
        adapters.close()
    return len(events) / seconds


def insert_rate(url: str, events: list[frames_pb2.FrameSelected]) -> float:
    engine = make_engine(url)
    create_schema(engine, ["label"])
    rows = [task_row(event, 0.0) for event in events]
    started = time.perf_counter()
    with engine.begin() as connection:
        connection.execute(TASKS.insert(), rows)
    seconds = time.perf_counter() - started
    engine.dispose()
    return len(events) / seconds


def creation_table(frames: int, postgres: str | None) -> None:
    events = selected_events(frames)
    print(f"Tasks created from frames.selected, {frames} events (tasks/s):\n")
    print("| database | label consumer | baseline executemany INSERT | consumer / baseline |")
    print("|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        targets = [("SQLite", lambda name: f"sqlite:///{Path(tmp) / name}.db")]
        stack = []
        if postgres:

            def pg(_name: str) -> str:
                context = fresh_postgres(postgres)
                stack.append(context)
                return context.__enter__()

            targets.append(("PostgreSQL", pg))
        for name, make_url in targets:
            consumer = asyncio.run(consumer_rate(make_url("consumer"), events, Path(tmp) / f"data-{name}"))
            baseline = insert_rate(make_url("baseline"), events)
            print(f"| {name} | {consumer:,.0f} | {baseline:,.0f} | {consumer / baseline:.2f}x |")
        for context in stack:
            context.__exit__(None, None, None)


def seed_queue(url: str, frames: int) -> None:
    engine = make_engine(url)
    create_schema(engine, ["label"])
    with engine.begin() as connection:
        apply(connection, parse(ONTOLOGY), author="bench", now=time.time())
        connection.execute(TASKS.insert(), [task_row(event, 0.0) for event in selected_events(frames)])
    engine.dispose()


BOXES = [{"class": "car", "box": [0.1, 0.1, 0.3, 0.3]}, {"class": "person", "box": [0.5, 0.2, 0.6, 0.6]}]


def percentiles(latencies: list[float]) -> tuple[float, float]:
    ordered = sorted(latencies)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


async def http_round_trips(settings: Settings, labellers: int, seconds: float) -> tuple[float, list[float]]:
    adapters = build_adapters(settings.model_copy(update={"operator_token": SecretStr(TOKEN)}), services=["label"])
    await adapters.start()
    accounts = Labellers(adapters.engine)
    keys = [accounts.add(f"http-{i}-{time.time_ns()}") for i in range(labellers)]
    latencies: list[float] = []
    async with running(adapters, ["label"]) as runner:
        deadline = time.perf_counter() + seconds

        async def labeller(key: str) -> None:
            headers = {"authorization": f"Bearer {key}"}
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{runner.http_port}", headers=headers) as client:
                while time.perf_counter() < deadline:
                    started = time.perf_counter()
                    task = await client.post("/v1/labels/tasks/next")
                    if task.status_code == 204:
                        return  # the queue ran out
                    path = f"/v1/labels/tasks/{task.json()['task_id']}/submit"
                    (await client.post(path, json={"annotations": BOXES})).raise_for_status()
                    latencies.append(time.perf_counter() - started)

        started = time.perf_counter()
        await asyncio.gather(*(labeller(key) for key in keys))
        elapsed = time.perf_counter() - started
    adapters.close()
    return len(latencies) / elapsed, latencies


def desk_round_trips(url: str, labellers: int, seconds: float) -> tuple[float, list[float]]:
    engine = make_engine(url)
    desk = LabelDesk(engine, LabelSettings())
    latencies: list[float] = []
    lock = threading.Lock()
    deadline = time.perf_counter() + seconds

    def labeller(name: str) -> None:
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            task = desk.next_task(name)
            if task is None:
                return  # the queue ran out
            desk.submit(name, task["task_id"], BOXES)
            with lock:
                latencies.append(time.perf_counter() - started)

    threads = [threading.Thread(target=labeller, args=(f"desk-{i}",)) for i in range(labellers)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    engine.dispose()
    return len(latencies) / elapsed, latencies


def round_trip_table(frames: int, seconds: float) -> None:
    with tempfile.TemporaryDirectory() as tmp, distributed_stack(Path(tmp)) as (settings, stack):
        print(f"\nLabelling round trips (next-task + submit), {stack}, {seconds:g} s each:\n")
        print("| path | labellers | round trips/s | p50 ms | p99 ms |")
        print("|---|---|---|---|---|")
        url = settings.sql_url
        seed_queue(url, frames)
        for path, labellers in (("desk in threads (baseline)", 8), ("HTTP API", 1), ("HTTP API", 8)):
            if path == "HTTP API":
                rate, latencies = asyncio.run(http_round_trips(settings, labellers, seconds))
            else:
                rate, latencies = desk_round_trips(url, labellers, seconds)
            p50, p99 = percentiles(latencies)
            print(f"| {path} | {labellers} | {rate:,.0f} | {p50 * 1e3:.1f} | {p99 * 1e3:.1f} |")


# -- exports ------------------------------------------------------------------------------------


def seed_done(url: str, frames: int) -> None:
    rng = random.Random(11)
    engine = make_engine(url)
    create_schema(engine, ["label"])
    rows = []
    for event in selected_events(frames):
        row = task_row(event, 0.0)
        annotations = []
        for _ in range(rng.randint(2, 6)):
            x, y = rng.uniform(0, 0.8), rng.uniform(0, 0.8)
            name = rng.choice(CLASSES)
            annotations.append({"class": name, "class_id": CLASSES.index(name) + 1,
                                "box": [round(x, 6), round(y, 6), round(x + 0.1, 6), round(y + 0.1, 6)],
                                "attributes": {}, "track_id": "", "from_prelabel": False})  # fmt: skip
        row |= {"state": "done", "labeller": "bench", "ontology_version": 1, "annotations": annotations,
                "submitted_at": 1.0, "published": True}  # fmt: skip
        rows.append(row)
    with engine.begin() as connection:
        apply(connection, parse(ONTOLOGY), author="bench", now=1.0)
        connection.execute(TASKS.insert(), rows)
    engine.dispose()


def export_child(kind: str, url: str, out: str) -> None:
    """In a process of its own: one export, then its time and the peak RSS it added to the
    interpreter with its imports (both variants import the same modules) as JSON on stdout."""
    from framesift.services.label import exports

    before_kb = _high_water_kb()
    started = time.perf_counter()
    if kind.startswith("baseline-"):
        _baseline_export(kind.removeprefix("baseline-"), url, Path(out))
    else:
        from framesift.services.label import exports
        from framesift.services.label.exports import DirectorySink, ExportFormat, ExportQuery
        from framesift.store.local import LocalObjectStore

        engine = make_engine(url)
        sink = DirectorySink(Path(out))
        asyncio.run(
            exports.export_dataset(
                engine, LocalObjectStore(Path(out + "-unused-store")), Settings().splits, ExportFormat(kind),
                ExportQuery.parse(["split:train", "split:val", "split:evaluation"]), lambda _id: (sink, out),
                with_images=False, now=time.time(),
            )
        )  # fmt: skip
    seconds = time.perf_counter() - started
    peak_mb = (_high_water_kb() - before_kb) / 1024
    print(json.dumps({"seconds": seconds, "peak_mb": peak_mb}))


def _high_water_kb() -> int:
    """The process's peak RSS so far (VmHWM), in kB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _baseline_export(kind: str, url: str, out: Path) -> None:
    """The same files, written with the json module and plain writes straight from the rows."""
    engine = make_engine(url)
    with engine.connect() as connection:
        rows = (
            connection.execute(sa.select(TASKS).where(TASKS.c.state == "done").order_by(TASKS.c.frame_id))
            .mappings()
            .all()
        )
    out.mkdir(parents=True)
    if kind == "coco":
        images, annotations = [], []
        for image_id, row in enumerate(rows, start=1):
            images.append(
                {"id": image_id, "file_name": row["object_key"], "width": row["width"], "height": row["height"]}
            )
            for a in row["annotations"]:
                x0, y0, x1, y1 = a["box"]
                w, h = row["width"], row["height"]
                bbox = [x0 * w, y0 * h, (x1 - x0) * w, (y1 - y0) * h]
                annotations.append({"id": len(annotations) + 1, "image_id": image_id, "category_id": a["class_id"],
                                    "bbox": bbox, "area": bbox[2] * bbox[3], "iscrowd": 0})  # fmt: skip
        categories = [{"id": i + 1, "name": name} for i, name in enumerate(CLASSES)]
        with (out / "train.json").open("w") as f:
            json.dump({"images": images, "annotations": annotations, "categories": categories}, f)
    else:
        (out / "labels").mkdir()
        for row in rows:
            lines = []
            for a in row["annotations"]:
                x0, y0, x1, y1 = a["box"]
                lines.append(
                    f"{a['class_id'] - 1} {(x0 + x1) / 2:.6f} {(y0 + y1) / 2:.6f} {x1 - x0:.6f} {y1 - y0:.6f}\n"
                )
            (out / "labels" / f"{row['frame_id']}.txt").write_text("".join(lines))
    engine.dispose()


def export_table(postgres: str | None, frames: int) -> None:
    print(f"\nExports of {frames} labelled frames, no images (each in its own process; peak RSS added):\n")
    print("| format | framesift s | peak RSS MB | baseline (json module) s | peak RSS MB |")
    print("|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'done.db'}"
        seed_done(url, frames)
        for kind in ("coco", "yolo"):
            figures = []
            for variant in (kind, f"baseline-{kind}"):
                out = Path(tmp) / variant
                done = subprocess.run(
                    [sys.executable, "-m", "bench.label", "--export-child", variant, url, str(out)],
                    capture_output=True, text=True, check=True,
                )  # fmt: skip
                figures.append(json.loads(done.stdout.splitlines()[-1]))
            ours, base = figures
            ours_figures = f"{ours['seconds']:.2f} | {ours['peak_mb']:.0f}"
            print(f"| {kind} | {ours_figures} | {base['seconds']:.2f} | {base['peak_mb']:.0f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=10_000)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--postgres", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--export-child", nargs=3, metavar=("KIND", "URL", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.export_child:
        export_child(*args.export_child)
        return
    creation_table(args.frames, args.postgres)
    round_trip_table(args.frames, args.seconds)
    export_table(args.postgres, args.frames)


if __name__ == "__main__":
    main()
