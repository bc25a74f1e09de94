"""The bus contract against a real Kafka-protocol broker (tansu, or KAFKA_BOOTSTRAP_SERVERS)."""

from __future__ import annotations

import pytest

from framesift.app.settings import Settings
from framesift.bus.kafka import KafkaBus
from framesift.runtime.settings import BusKind
from tests.contract.bus_contract import BusContract


def kafka_settings(bootstrap: str, idempotence: bool, **overrides) -> Settings:
    return Settings(
        bus=BusKind.KAFKA,
        kafka_bootstrap_servers=bootstrap,
        kafka_idempotence=idempotence,
        kafka_topic_partitions=3,
        **overrides,
    )


class TestKafkaBus(BusContract):
    @pytest.fixture
    async def bus(self, kafka_bootstrap: str, kafka_idempotence: bool):
        bus = KafkaBus(kafka_settings(kafka_bootstrap, kafka_idempotence), client_id="contract")
        await bus.start()
        yield bus
        await bus.stop()
