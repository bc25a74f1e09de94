"""Tasks rebuilt from frames.selected through a real broker: a replay (a new consumer group on an
empty database) and a redelivery give identical tasks, on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa

from framesift.app.registry import build_adapters
from framesift.contracts.topics import FRAMES_SELECTED
from framesift.runtime.settings import BusKind
from framesift.services.curate.settings import CurateSettings
from framesift.services.label.settings import LabelSettings
from framesift.services.label.tables import LabelTask
from tests.support.curation import run_pipeline, uploads
from tests.support.running import running
from tests.support.servers import TansuBroker
from tests.support.waiting import eventually

CURATE = CurateSettings(window_s=1800, lateness_s=0, budget_per_window=3, budget_per_day=100)


@pytest.fixture
def broker(tmp_path):
    """A broker of each test's own: the replay reads the whole topic from its beginning."""
    server = TansuBroker(log_path=tmp_path / "tansu.log").start()
    yield server.bootstrap
    server.stop()


def tasks(url: str) -> list[dict]:
    adapters_engine = sa.create_engine(url)
    try:
        with adapters_engine.connect() as connection:
            rows = connection.execute(sa.select(LabelTask.__table__).order_by(LabelTask.frame_id)).mappings()
            return [dict(r) for r in rows]
    finally:
        adapters_engine.dispose()


async def test_a_replay_and_a_redelivery_give_identical_tasks(embedded_settings, broker, database) -> None:
    settings = embedded_settings.model_copy(update={"curate": CURATE})
    await run_pipeline(settings, uploads("replay-label-cam", count=14))
    source = build_adapters(settings)
    await source.start()
    await source.bus.start()
    selected = source.bus.records(FRAMES_SELECTED.name)
    await source.bus.stop()
    source.close()
    assert len(selected) >= 3

    kafka = settings.model_copy(
        update={"bus": BusKind.KAFKA, "kafka_bootstrap_servers": broker, "kafka_idempotence": False,
                "kafka_topic_partitions": 3}
    )  # fmt: skip
    producer = build_adapters(kafka)
    await producer.start()
    await producer.bus.start()
    topic = f"{FRAMES_SELECTED.name}"
    await producer.bus.ensure_topics([topic])
    for record in [*selected, *selected[:2]]:  # the first two delivered twice
        await producer.bus.publish(topic, record.key, record.value, record.headers)
    await producer.bus.stop()
    producer.close()

    snapshots = []
    for _ in range(2):
        url = database()
        group = f"label-replay-{uuid.uuid4().hex[:6]}"
        replay = kafka.model_copy(update={"database_url": url, "label": LabelSettings(group=group)})
        adapters = build_adapters(replay)
        async with running(adapters, ["label"]):

            async def caught_up(bus=adapters.bus, group: str = group, url: str = url) -> bool:
                return await bus.lag(topic, group) == 0 and len(tasks(url)) == len(selected)

            await eventually(caught_up, timeout=90, what="label to create every task from the topic")
        adapters.close()
        snapshots.append(tasks(url))
    first, again = snapshots
    assert first == again
    assert len({t["task_id"] for t in first}) == len(selected)
    assert all(t["state"] == "queued" and t["created_at"] > 0 for t in first)
