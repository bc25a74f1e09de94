"""Label Studio sync against a real Label Studio server: tasks imported per second through
framesift's adapter, against Label Studio's own import API called directly with the same tasks
in the same run; and the time reconciliation takes to bring back 1 000 changed annotations.

Setup: a Label Studio 1.23 server (its own venv, as the tests start it: bench needs
`~/.cache/framesift/label-studio-1.23` or FRAMESIFT_LABEL_STUDIO_VENV), a fresh SQLite label
database with the ontology of the label tests and N tasks, each with two detector pre-labels.

- Import, baseline: the same task bodies framesift sends (image URL, ids, predictions), POSTed
  by httpx to `/api/projects/{id}/import` in batches of `--batch`, into a project of their own
  (after one untimed batch into another project: Label Studio's first requests are slower).
- Import, framesift: `StudioSync.push()` (selects unlinked tasks, builds and signs, imports the
  same batches, stores each link).
- Reconciliation: one annotation made on each of `--changed` tasks through Label Studio's API
  (not timed), then `StudioSync.reconcile()` until all are applied (QA, review sampling and the
  task's row; a page of 100 tasks per transaction, a savepoint each); then a pass with nothing
  changed (it re-reads the last `overlap_s`, 60 s); and, as the floor, Label Studio's listing of
  every task with its annotations, applying nothing.

Run: .venv/bin/python -m bench.label_studio [--tasks 1000] [--changed 1000] [--batch 200]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import sqlalchemy as sa
from pydantic import SecretStr
from rich.console import Console
from rich.table import Table

from framesift.app.registry import create_schema
from framesift.bus.events import EventPublisher
from framesift.bus.inprocess import InProcessBus
from framesift.contracts.splits import SplitSettings
from framesift.services.label.completed import CompletedOutbox
from framesift.services.label.desk import LabelDesk, create_task
from framesift.services.label.ontology import parse
from framesift.services.label.ontology_store import apply, latest
from framesift.services.label.settings import LabelSettings, LabelStudioSettings, ReviewSettings
from framesift.services.label.studio.client import StudioClient
from framesift.services.label.studio.config import label_config
from framesift.services.label.studio.convert import studio_task
from framesift.services.label.studio.sync import StudioSync
from framesift.services.label.tables import LabelTask
from framesift.sql.engine import make_engine
from tests.integration.test_label_desk import detection, selected
from tests.support.label_studio import LabelStudioServer

ONTOLOGY = {"classes": [{"name": "car"}, {"name": "person"}, {"name": "night", "kind": "frame"}]}
SECRET = "bench-secret-of-at-least-thirty-two-chars"


def make_tasks(engine, count: int) -> None:
    pre = [detection("car", 0.9, (0.1, 0.2, 0.3, 0.4)), detection("person", 0.6, (0.5, 0.1, 0.6, 0.5))]
    with engine.begin() as connection:
        apply(connection, parse(ONTOLOGY), author="bench", now=1.0)
        for i in range(count):
            create_task(connection, selected(f"bench-{i:06d}", priority=1 - i / count, detections=pre), 1.0)


def rows(engine) -> list[dict]:
    with engine.connect() as connection:
        table = LabelTask.__table__
        return [dict(r) for r in connection.execute(sa.select(table).order_by(table.c.priority.desc())).mappings()]


def direct_import(server: LabelStudioServer, engine, batch: int) -> tuple[float, int]:
    """Label Studio's import API with framesift's task bodies, built before the clock starts."""
    with engine.connect() as connection:
        ontology = latest(connection)
    bodies = [studio_task(t, f"http://127.0.0.1:1/img/{t['task_id']}", ontology) for t in rows(engine)]
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Token {server.token}"}, timeout=120) as http:
        # A first import warms Label Studio (its first requests are slower), into a project of its own.
        warm = http.post("/api/projects/", json={"title": "warm-up", "label_config": label_config(ontology)})
        http.post(f"/api/projects/{warm.json()['id']}/import", json=bodies[:batch]).raise_for_status()
        project = http.post("/api/projects/", json={"title": "direct import", "label_config": label_config(ontology)})
        project_id = project.json()["id"]
        start = time.perf_counter()
        for i in range(0, len(bodies), batch):
            answer = http.post(f"/api/projects/{project_id}/import", json=bodies[i : i + batch])
            answer.raise_for_status()
        return time.perf_counter() - start, len(bodies)


def annotate(server: LabelStudioServer, studio_ids: list[int]) -> None:
    region = {
        "id": "r", "from_name": "box", "to_name": "image", "type": "rectanglelabels",
        "value": {"x": 10, "y": 20, "width": 20, "height": 20, "rotation": 0, "rectanglelabels": ["car"]},
    }  # fmt: skip

    def one(studio_id: int) -> None:
        with httpx.Client(base_url=server.url, headers={"Authorization": f"Token {server.token}"}, timeout=60) as h:
            h.post(
                f"/api/tasks/{studio_id}/annotations/", json={"result": [region], "lead_time": 5.0}
            ).raise_for_status()

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(one, studio_ids))


async def measure(server: LabelStudioServer, folder: Path, tasks: int, changed: int, batch: int) -> list[tuple]:
    engine = make_engine(f"sqlite:///{folder / 'label.db'}")
    create_schema(engine, ["label"])
    make_tasks(engine, tasks)
    direct_s, direct_n = direct_import(server, engine, batch)

    settings = LabelStudioSettings(
        url=server.url, token=SecretStr(server.token), secret=SecretStr(SECRET), public_url="http://127.0.0.1:1",
        webhook=False, batch=batch, project_title="framesift bench",
    )  # fmt: skip
    review = ReviewSettings(rate=0.1, new_labeller_tasks=0, min_per_stratum=0)
    desk = LabelDesk(engine, LabelSettings(review=review))
    bus = InProcessBus()
    await bus.start()
    outbox = CompletedOutbox(engine, EventPublisher(bus), SplitSettings())
    client = StudioClient(server.url, server.token, timeout_s=120)
    sync = StudioSync(engine, desk, outbox, client, settings)
    try:
        await sync.start()
        start = time.perf_counter()
        pushed = await sync.push()
        push_s = time.perf_counter() - start
        with engine.connect() as connection:
            studio_ids = list(
                connection.execute(sa.text("SELECT studio_task_id FROM label_studio_links ORDER BY studio_task_id"))
                .scalars()
                .all()[:changed]
            )
        annotate(server, studio_ids)
        start = time.perf_counter()
        applied = await sync.reconcile()
        reconcile_s = time.perf_counter() - start
        start = time.perf_counter()
        idle = await sync.reconcile()
        idle_s = time.perf_counter() - start
        # The floor: Label Studio listing the same tasks (annotations included), nothing applied.
        start = time.perf_counter()
        listed = sum([len(page) async for page in client.pages(sync.project_id)])
        list_s = time.perf_counter() - start
    finally:
        await client.aclose()
        await bus.stop()
        engine.dispose()
    changed_rate = f"{applied['applied'] / reconcile_s:.0f} annotations/s"
    push_rate = f"{pushed / push_s:.0f} tasks/s ({push_s / direct_s:.2f}x the baseline's time)"
    return [
        ("import: Label Studio's API directly (baseline)", direct_n, direct_s, f"{direct_n / direct_s:.0f} tasks/s"),
        ("import: framesift's adapter (push)", pushed, push_s, push_rate),
        (f"reconcile: {len(studio_ids)} changed annotations", applied["applied"], reconcile_s, changed_rate),
        ("reconcile: nothing changed (re-reads the overlap)", idle["unchanged"], idle_s, f"{idle['applied']} applied"),
        ("floor: Label Studio lists every task, no apply", listed, list_s, f"{listed / list_s:.0f} tasks/s"),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", type=int, default=1000)
    parser.add_argument("--changed", type=int, default=1000)
    parser.add_argument("--batch", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        server = LabelStudioServer(folder / "ls-data", folder / "label-studio.log").start()
        try:
            results = asyncio.run(measure(server, folder, args.tasks, min(args.changed, args.tasks), args.batch))
        finally:
            server.stop()
    table = Table(title=f"Label Studio sync: {args.tasks} tasks, batches of {args.batch}")
    for column in ("step", "items", "seconds", "rate"):
        table.add_column(column, justify="left" if column in ("step", "rate") else "right")
    for step, items, seconds, rate in results:
        table.add_row(step, str(items), f"{seconds:.2f}", rate)
    Console().print(table)


if __name__ == "__main__":
    main()
