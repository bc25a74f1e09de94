"""The bus on Kafka (or any Kafka-protocol broker) with aiokafka.

acks=all; idempotent producer when the broker supports it (a setting); record key = the event's
key field (camera id for frame events, so one camera's frames stay ordered); manual commits
after each handled batch of a partition.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import CommitFailedError, KafkaError, TopicAlreadyExistsError

from framesift import metrics
from framesift.bus.base import BusUnavailableError, Headers, Record, RecordHandler
from framesift.bus.delivery import RetryPolicy, deliver
from framesift.settings import Settings

log = logging.getLogger(__name__)


def client_options(settings: Settings) -> dict[str, Any]:
    options: dict[str, Any] = {
        "bootstrap_servers": settings.kafka_bootstrap_servers,
        "request_timeout_ms": settings.kafka_request_timeout_ms,
        "security_protocol": settings.kafka_security_protocol,
    }
    if settings.kafka_sasl_mechanism:
        options["sasl_mechanism"] = settings.kafka_sasl_mechanism
        options["sasl_plain_username"] = settings.kafka_sasl_username
        if settings.kafka_sasl_password is not None:
            options["sasl_plain_password"] = settings.kafka_sasl_password.get_secret_value()
    return options


class KafkaBus:
    def __init__(self, settings: Settings, *, client_id: str = "framesift", connect_attempts: int = 5) -> None:
        self._settings = settings
        self._options = client_options(settings)
        self._client_id = client_id
        self._connect_attempts = connect_attempts
        self._producer: AIOKafkaProducer | None = None

    async def start(self) -> None:
        producer = AIOKafkaProducer(
            client_id=self._client_id,
            acks="all",
            enable_idempotence=self._settings.kafka_idempotence,
            **self._options,
        )
        await _with_backoff(producer.start, self._connect_attempts, "connect the producer")
        self._producer = producer

    async def stop(self) -> None:
        if self._producer is not None:
            await self._producer.stop()
            self._producer = None

    async def ready(self) -> bool:
        producer = self._producer
        if producer is None:
            return False
        try:
            # Resolves to False when no broker answered the metadata request.
            updated = await asyncio.wait_for(producer.client.force_metadata_update(), timeout=2)
        except (KafkaError, TimeoutError):
            return False
        return bool(updated)

    async def ensure_topics(self, names: Sequence[str]) -> None:
        admin = AIOKafkaAdminClient(client_id=self._client_id, **self._options)
        await _with_backoff(admin.start, self._connect_attempts, "connect the admin client")
        try:
            existing = set(await admin.list_topics())
            missing = [
                NewTopic(name, self._settings.kafka_topic_partitions, self._settings.kafka_replication_factor)
                for name in names
                if name not in existing
            ]
            if missing:
                # Another service may create them concurrently: that is what we wanted.
                with contextlib.suppress(TopicAlreadyExistsError):
                    await admin.create_topics(missing)
        finally:
            await admin.close()

    async def publish(self, topic: str, key: str, value: bytes, headers: Headers = ()) -> None:
        if self._producer is None:
            raise BusUnavailableError("Kafka producer is not started")
        try:
            await self._producer.send_and_wait(topic, value, key=key.encode(), headers=list(headers))
        except KafkaError as exc:
            raise BusUnavailableError(
                f"Kafka at {self._settings.kafka_bootstrap_servers} did not acknowledge a write to {topic}: "
                f"{type(exc).__name__}: {exc}"
            ) from exc
        metrics.MESSAGES_PUBLISHED.labels(topic).inc()

    def consumer(
        self,
        topics: Sequence[str],
        group: str,
        handler: RecordHandler,
        *,
        service: str,
        policy: RetryPolicy,
    ) -> KafkaConsumer:
        return KafkaConsumer(self, list(topics), group, handler, service=service, policy=policy)


class KafkaConsumer:
    def __init__(
        self,
        bus: KafkaBus,
        topics: list[str],
        group: str,
        handler: RecordHandler,
        *,
        service: str,
        policy: RetryPolicy,
    ) -> None:
        self._bus = bus
        self._topics = topics
        self._group = group
        self._handler = handler
        self._service = service
        self._policy = policy
        self._stopping = asyncio.Event()

    async def run(self) -> None:
        consumer = AIOKafkaConsumer(
            *self._topics,
            group_id=self._group,
            client_id=f"{self._bus._client_id}-{self._service}",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            **self._bus._options,
        )
        await _with_backoff(consumer.start, self._bus._connect_attempts, "connect the consumer")
        try:
            while not self._stopping.is_set():
                batches = await consumer.getmany(timeout_ms=200, max_records=256)
                for partition, records in batches.items():
                    if self._stopping.is_set():
                        break
                    await self._handle_batch(consumer, partition, records)
        finally:
            await consumer.stop()

    async def _handle_batch(self, consumer: AIOKafkaConsumer, partition: TopicPartition, records: list) -> None:
        next_offset: int | None = None
        try:
            for raw in records:
                # A rebalance may have moved the partition while we worked on the batch.
                if self._stopping.is_set() or partition not in consumer.assignment():
                    break
                record = Record(
                    topic=raw.topic,
                    partition=raw.partition,
                    offset=raw.offset,
                    key=raw.key.decode() if raw.key is not None else None,
                    value=raw.value,
                    headers=tuple(raw.headers),
                )
                done = await deliver(
                    record,
                    self._handler,
                    policy=self._policy,
                    service=self._service,
                    publish=self._bus.publish,
                    stopping=self._stopping,
                )
                if not done:
                    break
                next_offset = raw.offset + 1
        finally:
            # Commit what was handled, also when a dead letter could not be written (that error
            # propagates after this, and the unhandled rest is redelivered).
            if next_offset is not None:
                try:
                    await consumer.commit({partition: next_offset})
                except CommitFailedError as exc:
                    # The partition was reassigned; its new owner redelivers, handlers are idempotent.
                    log.warning("commit failed after rebalance", extra={"fields": {"error": str(exc)}})

    async def stop(self) -> None:
        self._stopping.set()


async def _with_backoff(start, attempts: int, what: str) -> None:
    for attempt in range(1, attempts + 1):
        try:
            await start()
            return
        except KafkaError as exc:
            if attempt == attempts:
                raise BusUnavailableError(f"could not {what} after {attempts} attempts: {exc}") from exc
            delay = min(5.0, 0.5 * 2 ** (attempt - 1))
            log.warning("Kafka unavailable, retrying", extra={"fields": {"what": what, "in_s": delay}})
            await asyncio.sleep(delay)
