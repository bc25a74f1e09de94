"""frames.selected goes out through an outbox: a broker outage while a window is chosen from
loses no selection and, once the broker is back, publishes each exactly once (real tansu, stopped
and started again on the same port)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from framesift.app.registry import build_adapters
from framesift.bus.base import BusUnavailableError
from framesift.bus.kafka import KafkaBus
from framesift.contracts.codec import decode
from framesift.contracts.topics import FRAMES_EMBEDDED, FRAMES_SELECTED, all_topic_names
from framesift.contracts.vocabulary import Status
from framesift.runtime.settings import BusKind
from framesift.services.curate.bootstrap import curate_deps
from framesift.services.curate.handlers import record_embedded
from framesift.services.curate.outbox import publish_outbox
from framesift.services.curate.selection_run import flush
from framesift.services.curate.settings import CurateSettings
from tests.integration.test_ingest_distributed import read_topic
from tests.support.curation import insert_frame, run_pipeline, uploads
from tests.support.servers import TansuBroker

CURATE = CurateSettings(window_s=86400, lateness_s=0, budget_per_window=3, budget_per_day=100)


def unpublished(engine) -> list[str]:
    with engine.connect() as connection:
        return list(
            connection.execute(
                sa.text("SELECT frame_id FROM curated_frames WHERE status = :s AND NOT published"),
                {"s": int(Status.SELECTED)},
            ).scalars()
        )


async def test_selections_stored_during_an_outage_are_published_once_after_it(embedded_settings, tmp_path) -> None:
    settings = embedded_settings.model_copy(update={"curate": CURATE})
    await run_pipeline(settings, uploads("outbox-cam", count=6))
    source = build_adapters(settings)
    await source.start()
    await source.bus.start()
    embedded = [decode(FRAMES_EMBEDDED, r.value, r.headers) for r in source.bus.records(FRAMES_EMBEDDED.name)]
    await source.bus.stop()
    source.close()
    assert len(embedded) == 6

    broker = TansuBroker(log_path=tmp_path / "tansu.log").start()
    kafka = settings.model_copy(
        update={
            "bus": BusKind.KAFKA,
            "kafka_bootstrap_servers": broker.bootstrap,
            "kafka_idempotence": False,
            "kafka_request_timeout_ms": 1500,
            "publish_attempts": 2,
            "retry_backoff_s": 0.05,
            "database_url": f"sqlite:///{tmp_path / 'curate.db'}",
        }
    )
    adapters = build_adapters(kafka, client_id="outbox-test")
    await adapters.start()
    await adapters.bus.start()
    await adapters.bus.ensure_topics(all_topic_names())
    curator = curate_deps(adapters, adapters.settings.curate)
    try:
        for event in embedded:
            await record_embedded(event, curator)
        broker.stop()
        with pytest.raises(BusUnavailableError):
            await flush(curator)
        stored = unpublished(adapters.engine)
        assert len(stored) == 3  # decided and stored, not yet announced

        broker.start()  # same port; the memory engine starts empty
        await KafkaBus(kafka, client_id="admin").ensure_topics([FRAMES_SELECTED.name])
        assert await publish_outbox(curator) == 3
        assert await publish_outbox(curator) == 0
        assert unpublished(adapters.engine) == []
        records = await read_topic(broker.bootstrap, FRAMES_SELECTED.name, 3)
        published = [decode(FRAMES_SELECTED, r.value, r.headers) for r in records]
        assert sorted(e.frame_id for e in published) == sorted(stored)
        assert all(e.selection_batch and e.priority.total > 0 for e in published)
    finally:
        await curator.vectors.close()
        await adapters.bus.stop()
        adapters.close()
        broker.stop()


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
async def test_concurrent_publishers_send_each_selection_once(tmp_path, postgres_url, database) -> None:
    """The consumer path and the idle-window closer (one process), or two replicas (PostgreSQL),
    publishing the outbox at once: every selection goes out once (it used to be 40 records for 20)."""
    import asyncio
    import contextlib

    from framesift.app.registry import create_schema
    from framesift.bus.events import EventPublisher
    from framesift.bus.inprocess import InProcessBus
    from framesift.services.curate.deps import CurateDeps
    from framesift.services.curate.outbox import publish_outbox
    from framesift.sql.engine import make_engine
    from framesift.vectors.qdrant import FrameVectors
    from tests.support.curation import fresh_postgres

    with contextlib.ExitStack() as stack:
        url = (
            f"sqlite:///{tmp_path / 'outbox.db'}"
            if database == "sqlite"
            else stack.enter_context(fresh_postgres(postgres_url))
        )
        engines = [make_engine(url) for _ in range(2)]
        create_schema(engines[0], ["curate"])
        with engines[0].begin() as connection:
            for i in range(20):
                insert_frame(connection, f"f{i:02d}", status=int(Status.SELECTED), window_id="w", decision="chosen")
        bus = InProcessBus()
        await bus.start()
        await bus.ensure_topics([FRAMES_SELECTED.name])
        vectors = FrameVectors("frames", None, path=tmp_path / "qdrant")  # never called: no point ids
        one = CurateDeps(engines[0], vectors, EventPublisher(bus), CURATE)
        replicas = (
            [one, one] if database == "sqlite" else [one, CurateDeps(engines[1], vectors, EventPublisher(bus), CURATE)]
        )
        published = await asyncio.gather(*(publish_outbox(deps) for deps in replicas))
        records = bus.records(FRAMES_SELECTED.name)
        await bus.stop()
        for engine in engines:
            engine.dispose()
    assert sum(published) == 20
    assert sorted(decode(FRAMES_SELECTED, r.value, r.headers).frame_id for r in records) == [
        f"f{i:02d}" for i in range(20)
    ]
