"""The curation read model: versioned migrations, and a rebuild from the topics through a real
broker giving the same state, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlmodel import SQLModel

from framesift.app.registry import build_adapters, create_schema, schemas_of
from framesift.contracts.topics import (
    FRAMES_CHECKED,
    FRAMES_EMBEDDED,
    FRAMES_INGESTED,
    FRAMES_REJECTED,
    all_topic_names,
)
from framesift.contracts.vocabulary import Status
from framesift.runtime.settings import BusKind
from framesift.services.curate.migrations import MIGRATIONS, current_version
from framesift.services.curate.settings import CurateSettings
from framesift.services.curate.tables import CuratedFrame, CurateTable
from framesift.services.label.tables import LabelTable
from framesift.sql.engine import make_engine
from tests.support.curation import run_pipeline, uploads
from tests.support.running import running
from tests.support.servers import TansuBroker
from tests.support.waiting import eventually


def test_migrations_are_versioned_idempotent_and_give_the_models_schema(database) -> None:
    engine = make_engine(database())
    assert current_version(engine) == 0
    create_schema(engine)
    create_schema(engine)  # a second start applies nothing
    with engine.connect() as connection:
        applied = connection.execute(
            sa.text("SELECT component, version FROM schema_versions ORDER BY component, version")
        ).all()
    assert applied == sorted((component, m.version) for component, ms in schemas_of().items() for m in ms)
    assert current_version(engine) == len(MIGRATIONS)
    # Every table a model describes exists with exactly the model's columns (no create_all anywhere).
    inspector = sa.inspect(engine)
    tables = [*CurateTable.metadata.sorted_tables, *LabelTable.metadata.sorted_tables, *SQLModel.metadata.sorted_tables]
    assert {"cameras", "upload_ledger", "quality_frames", "curated_frames", "label_tasks"} <= {t.name for t in tables}
    for table in tables:
        assert {c["name"] for c in inspector.get_columns(table.name)} == set(table.columns.keys()), table.name
    # From the catalogue: SQLAlchemy's inspector leaves expression indexes out.
    catalogue = (
        "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = :t"
        if engine.dialect.name == "sqlite"
        else "SELECT indexname FROM pg_indexes WHERE tablename = :t"
    )
    with engine.connect() as connection:
        indexes = set(connection.execute(sa.text(catalogue), {"t": CuratedFrame.__tablename__}).scalars())
    assert {"ix_curated_frames_camera_time", "ix_curated_frames_status_priority_key"} <= indexes
    assert "ix_curated_frames_status_priority" not in indexes  # dropped by migration 3
    engine.dispose()


def test_a_database_made_before_migrations_is_adopted(tmp_path) -> None:
    """Data dirs from before versioned migrations have tables from create_all: kept, versioned."""
    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    SQLModel.metadata.create_all(engine)  # what earlier releases did
    with engine.begin() as connection:
        connection.execute(sa.text("INSERT INTO cameras VALUES ('cam-old', 'hash', '2026-11-01 00:00:00', 0)"))
    create_schema(engine)
    with engine.connect() as connection:
        assert connection.execute(sa.text("SELECT camera_id FROM cameras")).scalars().all() == ["cam-old"]
        assert connection.execute(sa.text("SELECT count(*) FROM schema_versions")).scalar_one() == sum(
            len(ms) for ms in schemas_of().values()
        )
    engine.dispose()


@pytest.fixture(scope="module")
def broker(tmp_path_factory):
    """A broker of its own: the rebuild reads topics from their beginning."""
    server = TansuBroker(log_path=tmp_path_factory.mktemp("tansu-curate") / "tansu.log").start()
    yield server.bootstrap
    server.stop()


CURATE = CurateSettings(window_s=1800, lateness_s=0, budget_per_window=2, budget_per_day=100)


def state(url: str) -> tuple[list[dict], list[dict]]:
    engine = make_engine(url)
    with engine.connect() as connection:
        frames = [
            dict(r) for r in connection.execute(sa.text("SELECT * FROM curated_frames ORDER BY frame_id")).mappings()
        ]
        windows = [
            dict(r)
            for r in connection.execute(sa.text("SELECT * FROM selection_windows ORDER BY window_id")).mappings()
        ]
    engine.dispose()
    return frames, windows


async def test_rebuilding_from_the_topics_twice_gives_identical_state(embedded_settings, broker, database) -> None:
    # Real events: the embedded pipeline judges and embeds 14 uploads of one camera.
    settings = embedded_settings.model_copy(update={"curate": CURATE})
    frame_ids = await run_pipeline(settings, uploads("replay-cam"))
    source = build_adapters(settings)
    await source.start()
    await source.bus.start()
    topics = [FRAMES_INGESTED, FRAMES_CHECKED, FRAMES_REJECTED, FRAMES_EMBEDDED]
    records = {topic.name: source.bus.records(topic.name) for topic in topics}
    await source.bus.stop()
    source.close()
    assert len(records[FRAMES_EMBEDDED.name]) == 12
    assert len(records[FRAMES_REJECTED.name]) == 2

    kafka = settings.model_copy(
        update={
            "bus": BusKind.KAFKA,
            "kafka_bootstrap_servers": broker,
            "kafka_idempotence": False,
            "kafka_topic_partitions": 3,
        }
    )
    producer = build_adapters(kafka)
    await producer.start()
    await producer.bus.start()
    await producer.bus.ensure_topics(all_topic_names())
    for topic, published in records.items():
        for record in published:
            await producer.bus.publish(topic, record.key, record.value, record.headers)
    await producer.bus.stop()
    producer.close()

    snapshots = []
    for run in range(2):
        url = database()
        replay = kafka.model_copy(
            update={"database_url": url, "curate": CURATE.model_copy(update={"group": f"rebuild-{run}"})}
        )
        adapters = build_adapters(replay)
        async with running(adapters, ["curate"]):

            async def settled(url: str = url, group: str = replay.curate.group, bus=adapters.bus) -> bool:
                # Every record folded in (committed), not only every frame past its first states:
                # topics are consumed in any interleaving, so a late frames.ingested still moves a row.
                lags = [await bus.lag(topic, group) for topic in records]
                frames, windows = state(url)
                done = [f for f in frames if f["status"] not in (Status.INGESTED, Status.CHECKED)]
                return not any(lags) and len(done) == len(frame_ids) and sum(not w["closed"] for w in windows) == 1

            await eventually(settled, timeout=90, what="the read model to catch up with the topics")
        adapters.close()
        snapshots.append(state(url))

    (frames, windows), (again_frames, again_windows) = snapshots
    assert frames == again_frames
    assert windows == again_windows
    by_status = {Status(f["status"]).label: 0 for f in frames}
    for f in frames:
        by_status[Status(f["status"]).label] += 1
    assert by_status["rejected"] == 2
    closed = [w for w in windows if w["closed"]]
    assert closed
    assert all(w["selected"] == min(2, w["candidates"]) for w in closed)
    assert by_status.get("selected", 0) == sum(w["selected"] for w in closed)
    reasons = sorted(f["reasons"] for f in frames if f["status"] == Status.REJECTED)
    assert reasons[0] == ",corrupt,"
    assert ",dark," in reasons[1]
