"""The one place that picks concrete adapters from settings (bus, object store, SQL engine)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine

from framesift.bus.base import Bus
from framesift.bus.events import EventPublisher
from framesift.db import create_schema, make_engine
from framesift.settings import BusKind, Settings, StoreKind
from framesift.store.base import ObjectStore


@dataclass
class Adapters:
    settings: Settings
    bus: Bus
    store: ObjectStore
    engine: Engine

    async def start(self) -> None:
        """Prepare storage; the bus is started by the runner that owns its lifetime."""
        # Every service's tables, whichever services this process runs: a command that only
        # feeds the pipeline (framesift ingest) still needs the tables of those downstream.
        await self.store.start()
        create_schema(self.engine)

    def publisher(self) -> EventPublisher:
        """A publisher on this bus with the settings' retries (each service publishes through one)."""
        return EventPublisher(
            self.bus, attempts=self.settings.publish_attempts, backoff_s=self.settings.retry_backoff_s
        )

    def close(self) -> None:
        self.engine.dispose()


def build_bus(settings: Settings, *, client_id: str = "framesift") -> Bus:
    if settings.bus is BusKind.KAFKA:
        from framesift.bus.kafka import KafkaBus

        return KafkaBus(settings, client_id=client_id)
    if settings.bus is BusKind.MEMORY:
        from framesift.bus.inprocess import InProcessBus

        return InProcessBus(partitions=settings.kafka_topic_partitions)
    from framesift.bus.durable import DurableBus

    return DurableBus(settings.data_dir / "bus.db", partitions=settings.kafka_topic_partitions)


def build_store(settings: Settings) -> ObjectStore:
    if settings.store is StoreKind.S3:
        from framesift.store.s3 import S3ObjectStore

        return S3ObjectStore(settings)
    from framesift.store.local import LocalObjectStore

    return LocalObjectStore(settings.objects_dir)


def build_adapters(
    settings: Settings,
    *,
    bus: Bus | None = None,
    store: ObjectStore | None = None,
    engine: Engine | None = None,
    client_id: str = "framesift",
) -> Adapters:
    """Adapters from settings; tests pass their own instances for any of them."""
    if settings.database_url is None or settings.store is StoreKind.LOCAL:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    return Adapters(
        settings=settings,
        bus=bus or build_bus(settings, client_id=client_id),
        store=store or build_store(settings),
        engine=engine or make_engine(settings.sql_url),
    )
