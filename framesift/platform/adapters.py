"""Picks the concrete bus, object store and SQL engine from the platform's settings.

Inference backends and the vector store are picked the same way by framesift.inference.factory and
framesift.vectors.qdrant.build_vectors; which services run is the app's choice (framesift.app.registry).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from sqlalchemy import Engine

from framesift.bus.base import Bus
from framesift.bus.events import EventPublisher
from framesift.runtime.settings import BusKind, PlatformSettings, StoreKind
from framesift.sql.engine import make_engine, migrate_all
from framesift.sql.migrations import Migration
from framesift.store.base import ObjectStore


@dataclass
class Adapters:
    settings: PlatformSettings
    bus: Bus
    store: ObjectStore
    engine: Engine
    # The tables of the services this process runs: component -> its migrations.
    schemas: Mapping[str, Sequence[Migration]] = field(default_factory=dict)

    async def start(self) -> None:
        """Prepare storage; the bus is started by the runner that owns its lifetime."""
        await self.store.start()
        migrate_all(self.engine, self.schemas)

    def publisher(self) -> EventPublisher:
        """A publisher on this bus with the settings' retries (each service publishes through one)."""
        return EventPublisher(
            self.bus, attempts=self.settings.publish_attempts, backoff_s=self.settings.retry_backoff_s
        )

    def close(self) -> None:
        self.engine.dispose()


def build_bus(settings: PlatformSettings, *, client_id: str = "framesift") -> Bus:
    if settings.bus is BusKind.KAFKA:
        from framesift.bus.kafka import KafkaBus

        return KafkaBus(settings, client_id=client_id)
    if settings.bus is BusKind.MEMORY:
        from framesift.bus.inprocess import InProcessBus

        return InProcessBus(partitions=settings.kafka_topic_partitions)
    from framesift.bus.durable import DurableBus

    return DurableBus(settings.data_dir / "bus.db", partitions=settings.kafka_topic_partitions)


def build_store(settings: PlatformSettings) -> ObjectStore:
    if settings.store is StoreKind.S3:
        from framesift.store.s3 import S3ObjectStore

        return S3ObjectStore(settings)
    from framesift.store.local import LocalObjectStore

    return LocalObjectStore(settings.objects_dir)


def build_adapters(
    settings: PlatformSettings,
    *,
    bus: Bus | None = None,
    store: ObjectStore | None = None,
    engine: Engine | None = None,
    client_id: str = "framesift",
    schemas: Mapping[str, Sequence[Migration]] | None = None,
) -> Adapters:
    """Adapters from settings; tests pass their own instances for any of them."""
    if settings.database_url is None or settings.store is StoreKind.LOCAL:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    return Adapters(
        settings=settings,
        bus=bus or build_bus(settings, client_id=client_id),
        store=store or build_store(settings),
        engine=engine or make_engine(settings.sql_url),
        schemas=dict(schemas or {}),
    )
