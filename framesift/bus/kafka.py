"""The bus on Kafka (or any Kafka-protocol broker) with aiokafka.

acks=all; idempotent producer when the broker supports it (a setting); record key = the event's
key field (camera id for frame events, so one camera's frames stay ordered); manual commits
after each handled batch of a partition.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Sequence
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import CommitFailedError, KafkaError, MessageSizeTooLargeError, TopicAlreadyExistsError

from framesift.bus.base import (
    BusUnavailableError,
    Headers,
    Record,
    RecordHandler,
    RecordRejectedError,
    announce_ahead,
)
from framesift.bus.delivery import RetryPolicy, deliver
from framesift.runtime import metrics
from framesift.runtime.retry import of_type, with_retries
from framesift.runtime.settings import PlatformSettings

log = logging.getLogger(__name__)


def client_options(settings: PlatformSettings) -> dict[str, Any]:
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
    def __init__(self, settings: PlatformSettings, *, client_id: str = "framesift", connect_attempts: int = 5) -> None:
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
            max_request_size=self._settings.kafka_max_request_bytes,
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
        except MessageSizeTooLargeError as exc:
            raise RecordRejectedError(
                f"a record of {len(value)} bytes for {topic} is over the size limit: {exc}"
            ) from exc
        except KafkaError as exc:
            raise BusUnavailableError(
                f"Kafka at {self._settings.kafka_bootstrap_servers} did not acknowledge a write to {topic}: "
                f"{type(exc).__name__}: {exc}"
            ) from exc
        metrics.MESSAGES_PUBLISHED.labels(topic).inc()

    @contextlib.asynccontextmanager
    async def _topic_reader(
        self, topic: str, what: str, group: str | None = None
    ) -> AsyncIterator[tuple[AIOKafkaConsumer, list[TopicPartition]]]:
        """A consumer that never joins a group (`group` only names whose committed offsets it may
        look up), and the topic's partitions (none when it does not exist)."""
        reader = AIOKafkaConsumer(
            client_id=f"{self._client_id}-{what}", group_id=group, enable_auto_commit=False, **self._options
        )
        await _with_backoff(reader.start, self._connect_attempts, f"{what} {topic}")
        try:
            await reader.topics()  # fetches the metadata partitions_for_topic answers from
            yield reader, [TopicPartition(topic, p) for p in sorted(reader.partitions_for_topic(topic) or ())]
        finally:
            await reader.stop()

    async def depth(self, topic: str) -> int:
        async with self._topic_reader(topic, "measure") as (reader, partitions):
            if not partitions:
                return 0
            ends, starts = await reader.end_offsets(partitions), await reader.beginning_offsets(partitions)
            return sum(ends[tp] - starts[tp] for tp in partitions)

    async def lag(self, topic: str, group: str) -> int:
        """Records on `topic` that `group` has not committed yet (all of them before its first commit)."""
        async with self._topic_reader(topic, "lag", group) as (reader, partitions):
            if not partitions:
                return 0
            ends, starts = await reader.end_offsets(partitions), await reader.beginning_offsets(partitions)
            behind = 0
            for tp in partitions:
                committed = await reader.committed(tp)
                behind += ends[tp] - (starts[tp] if committed is None else committed)
            return behind

    async def read(self, topic: str) -> list[Record]:
        async with self._topic_reader(topic, "read") as (reader, partitions):
            if not partitions:
                return []
            reader.assign(partitions)
            await reader.seek_to_beginning(*partitions)
            ends = await reader.end_offsets(partitions)
            found: list[Record] = []
            while [tp for tp in partitions if await reader.position(tp) < ends[tp]]:
                for part, batch in (await reader.getmany(timeout_ms=1000, max_records=500)).items():
                    found.extend(_record(raw) for raw in batch if raw.offset < ends[part])
            return sorted(found, key=lambda r: (r.partition, r.offset))

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
    """One member of a consumer group: handles records in order per partition, commits what it
    handled; on a rebalance, finishes the record in hand, commits, and leaves the rest of the
    revoked partitions' batch to their new owner (at-least-once, nothing handled twice by design)."""

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
        # Held while one record is handled: a revocation waits for it, never interrupts it.
        self._working = asyncio.Lock()
        # Per partition, the next offset to commit (handled but not committed yet).
        self._done: dict[TopicPartition, int] = {}
        self._revoked: set[TopicPartition] = set()

    async def run(self) -> None:
        consumer = AIOKafkaConsumer(
            group_id=self._group,
            client_id=f"{self._bus._client_id}-{self._service}",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_partition_fetch_bytes=self._bus._settings.kafka_max_partition_fetch_bytes,
            **self._bus._options,
        )
        consumer.subscribe(self._topics, listener=_Rebalance(self, consumer))
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
        batch = [_record(raw) for raw in records]
        announce_ahead(self._handler, batch)
        try:
            for record in batch:
                # A rebalance took the partition while we worked on the batch: its new owner
                # reads on from what the revocation committed.
                if self._stopping.is_set() or partition in self._revoked or partition not in consumer.assignment():
                    break
                async with self._working:
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
                    self._done[partition] = record.offset + 1
        finally:
            # Commit what was handled, also when a dead letter could not be written (that error
            # propagates after this, and the unhandled rest is redelivered).
            await self._commit(consumer, [partition])

    async def _commit(self, consumer: AIOKafkaConsumer, partitions: Sequence[TopicPartition]) -> None:
        offsets = {tp: self._done.pop(tp) for tp in partitions if tp in self._done}
        if not offsets:
            return
        try:
            await consumer.commit(offsets)
        except CommitFailedError as exc:
            # The group moved on without us; the new owner redelivers, handlers are idempotent.
            log.warning("commit failed after rebalance", extra={"fields": {"error": str(exc)}})

    async def on_revoked(self, consumer: AIOKafkaConsumer, revoked: set[TopicPartition]) -> None:
        self._revoked |= revoked
        async with self._working:  # the record in hand finishes first
            await self._commit(consumer, list(revoked))
        metrics.PARTITIONS_REVOKED.labels(self._group).inc(len(revoked))

    def on_assigned(self, assigned: set[TopicPartition]) -> None:
        self._revoked -= assigned

    async def stop(self) -> None:
        self._stopping.set()


class _Rebalance(ConsumerRebalanceListener):
    """aiokafka awaits these during a rebalance, before partitions move to another member."""

    def __init__(self, owner: KafkaConsumer, consumer: AIOKafkaConsumer) -> None:
        self._owner = owner
        self._consumer = consumer

    async def on_partitions_revoked(self, revoked) -> None:
        await self._owner.on_revoked(self._consumer, set(revoked))

    async def on_partitions_assigned(self, assigned) -> None:
        self._owner.on_assigned(set(assigned))


def _record(raw) -> Record:
    """A consumed record; keys and values are untrusted input: what is wrong is named, not raised."""
    problems = []
    key = None
    if raw.key is not None:
        try:
            key = raw.key.decode()
        except UnicodeDecodeError:
            key = raw.key.decode(errors="backslashreplace")
            problems.append("its key is not UTF-8")
    if raw.value is None:
        problems.append("it has no value (a tombstone)")
    return Record(
        topic=raw.topic,
        partition=raw.partition,
        offset=raw.offset,
        key=key,
        value=raw.value or b"",
        headers=tuple(raw.headers),
        malformed="; ".join(problems) or None,
    )


async def _with_backoff(start, attempts: int, what: str) -> None:
    await with_retries(
        start,
        what=f"Kafka: {what}",
        retry_on=of_type(KafkaError),
        attempts=attempts,
        backoff_s=0.5,
        backoff_max_s=5.0,
        gave_up=lambda exc: BusUnavailableError(f"could not {what} after {attempts} attempts: {exc}"),
    )
