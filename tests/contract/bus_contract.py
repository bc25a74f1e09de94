"""The bus contract: every Bus implementation passes these same tests.

Subclasses provide `bus` (started, torn down) as a fixture. Topic and group names are unique per
test, so tests share a broker without interfering.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import defaultdict

import pytest

from framesift.bus.base import Bus, Record
from framesift.bus.delivery import (
    DLQ_ATTEMPTS,
    DLQ_ERROR,
    DLQ_ORIGINAL_TOPIC,
    DLQ_SERVICE,
    RetryableError,
    RetryPolicy,
)
from framesift.bus.events import EventPublisher, on_event
from framesift.contracts.topics import FRAMES_INGESTED
from framesift.v1 import frames_pb2
from tests.support.waiting import eventually

FAST = RetryPolicy(max_attempts=3, backoff_s=0.01, backoff_max_s=0.05)


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


class Consuming:
    """Runs consumers as tasks and stops them at the end of a test."""

    def __init__(self, bus: Bus) -> None:
        self.bus = bus
        self.running: list[tuple[object, asyncio.Task]] = []

    def start(self, topic: str, group: str, handler, policy: RetryPolicy = FAST, service: str = "test"):
        consumer = self.bus.consumer([topic], group, handler, service=service, policy=policy)
        task = asyncio.create_task(consumer.run())
        self.running.append((consumer, task))
        return consumer, task

    async def stop_all(self) -> None:
        for consumer, _ in self.running:
            await consumer.stop()
        await asyncio.gather(*(task for _, task in self.running), return_exceptions=True)


class BusContract:
    @pytest.fixture
    async def consuming(self, bus: Bus):
        consuming = Consuming(bus)
        yield consuming
        await consuming.stop_all()

    async def test_delivers_key_value_and_headers(self, bus: Bus, consuming: Consuming) -> None:
        topic = unique("t")
        await bus.ensure_topics([topic, topic + ".dlq"])
        received: list[Record] = []

        async def handle(record: Record) -> None:
            received.append(record)

        await bus.publish(topic, "cam-1", b"payload", (("h", b"v"),))
        consuming.start(topic, unique("g"), handle)
        await eventually(lambda: received, what="the record")
        assert received[0].key == "cam-1"
        assert received[0].value == b"payload"
        assert received[0].header("h") == b"v"
        assert received[0].topic == topic

    async def test_records_of_one_key_stay_in_order(self, bus: Bus, consuming: Consuming) -> None:
        topic = unique("t")
        await bus.ensure_topics([topic, topic + ".dlq"])
        seen: dict[str, list[int]] = defaultdict(list)

        async def handle(record: Record) -> None:
            seen[record.key].append(int(record.value))

        for i in range(40):
            await bus.publish(topic, f"cam-{i % 4}", str(i).encode())
        group = unique("g")
        consuming.start(topic, group, handle)
        consuming.start(topic, group, handle)
        await eventually(lambda: sum(map(len, seen.values())) >= 40, what="40 records")
        for key, values in seen.items():
            assert values == sorted(values), f"{key} out of order: {values}"
        assert sum(map(len, seen.values())) == 40

    async def test_each_group_gets_every_record_and_members_share_them(self, bus: Bus, consuming: Consuming) -> None:
        topic = unique("t")
        await bus.ensure_topics([topic, topic + ".dlq"])
        by_group: dict[str, list[bytes]] = defaultdict(list)

        def handler(group: str):
            async def handle(record: Record) -> None:
                by_group[group].append(record.value)

            return handle

        for i in range(30):
            await bus.publish(topic, f"cam-{i}", str(i).encode())
        first, second = unique("g"), unique("g")
        consuming.start(topic, first, handler(first))
        consuming.start(topic, first, handler(first))
        consuming.start(topic, second, handler(second))
        await eventually(lambda: len(by_group[first]) >= 30 and len(by_group[second]) >= 30, what="both groups")
        # Within a group no record is handled twice when nothing fails.
        assert sorted(by_group[first]) == sorted(str(i).encode() for i in range(30))
        assert sorted(by_group[second]) == sorted(by_group[first])

    async def test_failing_handler_is_retried_then_dead_lettered_and_consumption_goes_on(
        self, bus: Bus, consuming: Consuming
    ) -> None:
        topic = unique("t")
        await bus.ensure_topics([topic, topic + ".dlq"])
        attempts: dict[bytes, int] = defaultdict(int)
        handled: list[bytes] = []
        dead: list[Record] = []

        async def handle(record: Record) -> None:
            attempts[record.value] += 1
            if record.value == b"poison":
                raise ValueError("cannot handle poison")
            handled.append(record.value)

        async def collect(record: Record) -> None:
            dead.append(record)

        await bus.publish(topic, "cam-1", b"before")
        await bus.publish(topic, "cam-1", b"poison", (("trace", b"abc"),))
        await bus.publish(topic, "cam-1", b"after")
        consuming.start(topic, unique("g"), handle, service="quality")
        consuming.start(topic + ".dlq", unique("g"), collect)
        await eventually(lambda: handled == [b"before", b"after"] and dead, what="poison dead-lettered")
        assert attempts[b"poison"] == FAST.max_attempts
        letter = dead[0]
        assert letter.value == b"poison"
        assert letter.key == "cam-1"
        assert letter.header("trace") == b"abc"  # original headers kept
        assert letter.header(DLQ_ERROR).startswith(b"ValueError: cannot handle poison")
        assert letter.header(DLQ_SERVICE) == b"quality"
        assert letter.header(DLQ_ATTEMPTS) == str(FAST.max_attempts).encode()
        assert letter.header(DLQ_ORIGINAL_TOPIC) == topic.encode()

    async def test_malformed_event_goes_to_dlq_at_once_with_the_reason(self, bus: Bus, consuming: Consuming) -> None:
        topic = FRAMES_INGESTED.name  # decoding needs the real schema
        await bus.ensure_topics([topic, FRAMES_INGESTED.dlq])
        group = unique("g")
        calls: list[str] = []
        dead: list[Record] = []
        marker = unique("frame")

        async def handle(event: frames_pb2.FrameIngested) -> None:
            calls.append(event.frame_id)

        async def collect(record: Record) -> None:
            if record.value == b"\xff\xffnot protobuf" + marker.encode():
                dead.append(record)

        await bus.publish(topic, "cam-1", b"\xff\xffnot protobuf" + marker.encode())
        await EventPublisher(bus).publish(frames_pb2.FrameIngested(frame_id=marker, camera_id="cam-1"))
        consuming.start(topic, group, on_event(FRAMES_INGESTED, handle))
        consuming.start(FRAMES_INGESTED.dlq, unique("g"), collect)
        await eventually(lambda: dead and marker in calls, what="malformed record dead-lettered")
        assert dead[0].header(DLQ_ATTEMPTS) == b"1"
        assert b"MalformedMessageError" in dead[0].header(DLQ_ERROR)

    async def test_outage_errors_retry_beyond_max_attempts_without_dead_lettering(
        self, bus: Bus, consuming: Consuming
    ) -> None:
        topic = unique("t")
        await bus.ensure_topics([topic, topic + ".dlq"])
        attempts: list[int] = []
        dead: list[Record] = []

        async def handle(record: Record) -> None:
            attempts.append(1)
            if len(attempts) <= FAST.max_attempts + 2:
                raise RetryableError("store down")

        async def collect(record: Record) -> None:
            dead.append(record)

        await bus.publish(topic, "cam-1", b"x")
        consuming.start(topic, unique("g"), handle)
        consuming.start(topic + ".dlq", unique("g"), collect)
        await eventually(lambda: len(attempts) == FAST.max_attempts + 3, what="success after the outage")
        assert dead == []

    async def test_record_in_hand_when_a_consumer_dies_is_redelivered_and_handled_once(
        self, bus: Bus, consuming: Consuming
    ) -> None:
        topic = unique("t")
        await bus.ensure_topics([topic, topic + ".dlq"])
        group = unique("g")
        entered = asyncio.Event()
        never = asyncio.Event()
        deliveries: list[bytes] = []
        effects: dict[str, bytes] = {}  # an idempotent effect: upsert by key

        async def hang(record: Record) -> None:
            deliveries.append(record.value)
            entered.set()
            await never.wait()

        async def handle(record: Record) -> None:
            deliveries.append(record.value)
            effects[record.key] = record.value

        await bus.publish(topic, "frame-1", b"v1")
        _, task = consuming.start(topic, group, hang)
        await asyncio.wait_for(entered.wait(), timeout=30)
        task.cancel()  # the process dies before committing
        await asyncio.gather(task, return_exceptions=True)
        consuming.start(topic, group, handle)
        await eventually(lambda: effects, timeout=60, what="redelivery to the next member")
        assert deliveries == [b"v1", b"v1"]
        assert effects == {"frame-1": b"v1"}

    async def test_committed_records_are_not_redelivered_to_the_group(self, bus: Bus, consuming: Consuming) -> None:
        topic = unique("t")
        await bus.ensure_topics([topic, topic + ".dlq"])
        group = unique("g")
        first: list[bytes] = []
        later: list[bytes] = []

        async def collect_first(record: Record) -> None:
            first.append(record.value)

        async def collect_later(record: Record) -> None:
            later.append(record.value)

        await bus.publish(topic, "cam-1", b"a")
        consumer, task = consuming.start(topic, group, collect_first)
        await eventually(lambda: first == [b"a"], what="first record")
        await consumer.stop()
        await asyncio.wait_for(task, timeout=30)
        await bus.publish(topic, "cam-1", b"b")
        consuming.start(topic, group, collect_later)
        await eventually(lambda: later, timeout=60, what="the new record")
        assert later == [b"b"]
