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


async def handled_and_dead_lettered(bus: KafkaBus, topic: str, policy, *, dead_letters: int):
    """Run a FrameIngested consumer on `topic` and a reader of its DLQ until the event after the
    bad records is handled and `dead_letters` arrived; a consumer that stops fails the test."""
    import asyncio
    import uuid

    from framesift.bus.events import on_event
    from framesift.contracts.topics import FRAMES_INGESTED
    from tests.support.waiting import eventually

    handled: list[str] = []
    dead: list = []

    async def handle(message) -> None:
        handled.append(message.frame_id)

    async def collect(record) -> None:
        dead.append(record)

    consumers = [
        bus.consumer([topic], uuid.uuid4().hex, on_event(FRAMES_INGESTED, handle), service="test", policy=policy),
        bus.consumer([topic + ".dlq"], uuid.uuid4().hex, collect, service="test", policy=policy),
    ]
    tasks = [asyncio.create_task(consumer.run()) for consumer in consumers]
    try:
        await eventually(
            lambda: (handled and len(dead) == dead_letters) or any(t.done() for t in tasks), timeout=60, what="both"
        )
        for task in tasks:
            if task.done():
                task.result()
    finally:
        for consumer in consumers:
            await consumer.stop()
        await asyncio.gather(*tasks, return_exceptions=True)
    return handled, dead


async def test_a_key_that_is_not_utf8_and_a_tombstone_go_to_the_dlq_at_once(kafka_bootstrap, kafka_idempotence) -> None:
    """Keys and values are untrusted input: neither may stop the consumer (it used to crash-loop)."""
    import uuid

    from aiokafka import AIOKafkaProducer

    from framesift.bus.delivery import DLQ_ATTEMPTS, DLQ_ERROR, RetryPolicy
    from framesift.v1 import frames_pb2

    bus = KafkaBus(kafka_settings(kafka_bootstrap, kafka_idempotence), client_id="hostile")
    topic = f"hostile-{uuid.uuid4().hex[:8]}"
    await bus.start()
    await bus.ensure_topics([topic, topic + ".dlq"])
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
    await producer.start()
    event = frames_pb2.FrameIngested(frame_id="bad-key", camera_id="cam-1").SerializeToString()
    after = frames_pb2.FrameIngested(frame_id="after", camera_id="cam-1").SerializeToString()
    for key, value in ((b"\xff\xfe", event), (b"cam-1", None), (b"cam-1", after)):
        await producer.send_and_wait(topic, value, key=key, partition=0)
    await producer.stop()
    policy = RetryPolicy(max_attempts=3, backoff_s=0.01, backoff_max_s=0.05)
    try:
        handled, dead = await handled_and_dead_lettered(bus, topic, policy, dead_letters=2)
    finally:
        await bus.stop()
    assert handled == ["after"]  # the record behind them was handled: the partition goes on
    errors = " | ".join(record.header(DLQ_ERROR).decode() for record in dead)
    assert "its key is not UTF-8" in errors
    assert "it has no value (a tombstone)" in errors
    assert all(record.header(DLQ_ATTEMPTS) == b"1" for record in dead)  # at once, never retried


async def test_a_record_near_the_size_limit_is_dead_lettered_cut_down_and_consumption_goes_on(
    kafka_bootstrap, kafka_idempotence
) -> None:
    """A malformed 1 048 420-byte value (a default producer accepts it): its dead letter plus
    framesift's headers used to exceed the producer's limit, stop the consumer and crash-loop."""
    import uuid

    from aiokafka import AIOKafkaProducer

    from framesift.bus.delivery import DLQ_ATTEMPTS, DLQ_TRUNCATED, RetryPolicy
    from framesift.v1 import frames_pb2

    bus = KafkaBus(kafka_settings(kafka_bootstrap, kafka_idempotence), client_id="big")
    topic = f"big-{uuid.uuid4().hex[:8]}"
    await bus.start()
    await bus.ensure_topics([topic, topic + ".dlq"])
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)  # defaults, as a careless producer has
    await producer.start()
    huge = b"\xff" * 1_048_420
    await producer.send_and_wait(topic, huge, key=b"cam-1", partition=0)
    await producer.send_and_wait(
        topic,
        frames_pb2.FrameIngested(frame_id="after", camera_id="cam-1").SerializeToString(),
        key=b"cam-1",
        partition=0,
    )
    await producer.stop()
    policy = RetryPolicy(max_attempts=1, backoff_s=0.01, backoff_max_s=0.01, dlq_max_value_bytes=512 * 1024)
    try:
        handled, dead = await handled_and_dead_lettered(bus, topic, policy, dead_letters=1)
    finally:
        await bus.stop()
    assert handled == ["after"]
    [letter] = dead
    assert letter.value == huge[: 512 * 1024]
    assert letter.header(DLQ_TRUNCATED) == b"1048420"
    assert letter.header(DLQ_ATTEMPTS) == b"1"


async def test_a_dead_letter_the_broker_refuses_is_skipped_and_counted_not_a_stopped_partition() -> None:
    """The broker refusing even the cut-down dead letter cannot be caused with a real broker and
    framesift's own limits (its headers alone always fit), so this publish is a fake that refuses."""
    import asyncio

    from framesift.bus.base import Record, RecordRejectedError
    from framesift.bus.delivery import RetryPolicy, deliver
    from framesift.contracts.codec import MalformedMessageError
    from framesift.runtime import metrics

    async def refuses(topic: str, key: str, value: bytes, headers) -> None:
        raise RecordRejectedError("too large")

    async def malformed(record: Record) -> None:
        raise MalformedMessageError("not an event")

    before = metrics.DEAD_LETTERS_SKIPPED.labels("test", "t")._value.get()
    record = Record(topic="t", partition=0, offset=7, key="k", value=b"x")
    done = await deliver(
        record, malformed, policy=RetryPolicy(), service="test", publish=refuses, stopping=asyncio.Event()
    )
    assert done  # committed: the partition goes on
    assert metrics.DEAD_LETTERS_SKIPPED.labels("test", "t")._value.get() == before + 1


async def test_read_returns_every_record_of_a_topic_without_a_group(kafka_bootstrap, kafka_idempotence) -> None:
    """What `framesift dlq list` reads on Kafka: the whole topic, committing nothing."""
    import uuid

    bus = KafkaBus(kafka_settings(kafka_bootstrap, kafka_idempotence), client_id="reader")
    topic = f"read-{uuid.uuid4().hex[:8]}"
    await bus.start()
    try:
        await bus.ensure_topics([topic])
        for i in range(7):
            await bus.publish(topic, f"camera-{i}", str(i).encode(), (("h", b"v"),))
        first = await bus.read(topic)
        again = await bus.read(topic)
        assert sorted(r.value for r in first) == [str(i).encode() for i in range(7)]
        assert [r.offset for r in again] == [r.offset for r in first]  # nothing was consumed away
        assert all(r.header("h") == b"v" for r in first)
        assert await bus.read(f"nothing-{uuid.uuid4().hex[:8]}") == []
    finally:
        await bus.stop()


async def test_lag_counts_what_a_group_has_not_committed(kafka_bootstrap, kafka_idempotence) -> None:
    """All of a topic before the group's first commit, none once it consumed everything."""
    import asyncio
    import uuid

    from framesift.bus.delivery import RetryPolicy
    from tests.support.waiting import eventually

    bus = KafkaBus(kafka_settings(kafka_bootstrap, kafka_idempotence), client_id="lag")
    topic, group = f"lag-{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
    seen: list[bytes] = []

    async def handle(record) -> None:
        seen.append(record.value)

    await bus.start()
    try:
        await bus.ensure_topics([topic])
        for i in range(5):
            await bus.publish(topic, f"camera-{i}", str(i).encode())
        assert await bus.lag(topic, group) == 5
        policy = RetryPolicy(max_attempts=3, backoff_s=0.01, backoff_max_s=0.05)
        consumer = bus.consumer([topic], group, handle, service="test", policy=policy)
        task = asyncio.create_task(consumer.run())

        async def caught_up() -> bool:
            return await bus.lag(topic, group) == 0

        try:
            await eventually(caught_up, timeout=60, what="nothing left to commit")
        finally:
            await consumer.stop()
            await asyncio.gather(task, return_exceptions=True)
        assert sorted(seen) == [str(i).encode() for i in range(5)]
        assert await bus.lag(f"nothing-{uuid.uuid4().hex[:8]}", group) == 0
    finally:
        await bus.stop()
