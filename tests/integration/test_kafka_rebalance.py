"""A second member joining the group mid-stream (real broker): the first finishes the record in
hand, commits what it handled and hands the partitions over; nothing is lost and, since the
revocation commits, nothing is handled twice."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter

from framesift.bus.base import Record
from framesift.bus.delivery import RetryPolicy
from framesift.bus.kafka import KafkaBus
from framesift.runtime import metrics
from tests.integration.test_kafka_bus import kafka_settings
from tests.support.waiting import eventually

RECORDS = 600  # half before the second member joins, half after (the stream goes on)


async def test_a_member_joining_mid_stream_loses_nothing_and_repeats_nothing(
    kafka_bootstrap, kafka_idempotence
) -> None:
    bus = KafkaBus(kafka_settings(kafka_bootstrap, kafka_idempotence), client_id="rebalance")
    topic, group = f"rebalance-{uuid.uuid4().hex[:8]}", f"group-{uuid.uuid4().hex[:8]}"
    await bus.start()
    await bus.ensure_topics([topic])  # 3 partitions

    async def produce(numbers: range) -> None:
        for i in numbers:
            await bus.publish(topic, f"camera-{i % 30}", str(i).encode())

    await produce(range(RECORDS // 2))
    handled: list[tuple[str, int, int]] = []  # (member, partition, offset)

    def handler(member: str):
        async def handle(record: Record) -> None:
            handled.append((member, record.partition, record.offset))
            await asyncio.sleep(0.01)  # the work a record takes, so that the stream is still going

        return handle

    policy = RetryPolicy(max_attempts=1, backoff_s=0.01, backoff_max_s=0.01)
    revoked_before = metrics.PARTITIONS_REVOKED.labels(group)._value.get()
    first = bus.consumer([topic], group, handler("first"), service="first", policy=policy)
    second = bus.consumer([topic], group, handler("second"), service="second", policy=policy)
    tasks = [asyncio.create_task(first.run())]
    try:
        await eventually(lambda: len(handled) >= 30, timeout=60, what="the first member to be under way")
        tasks.append(asyncio.create_task(second.run()))
        await produce(range(RECORDS // 2, RECORDS))  # every partition gets more after the join
        await eventually(
            lambda: len({(p, o) for _, p, o in handled}) == RECORDS or any(t.done() for t in tasks),
            timeout=120,
            what="every record handled",
        )
        for task in tasks:
            if task.done():
                task.result()
    finally:
        await first.stop()
        await second.stop()
        await asyncio.gather(*tasks, return_exceptions=True)
        await bus.stop()
    assert metrics.PARTITIONS_REVOKED.labels(group)._value.get() > revoked_before  # a rebalance happened
    assert {member for member, _, _ in handled} == {"first", "second"}  # both had partitions
    counts = Counter((partition, offset) for _, partition, offset in handled)
    assert len(counts) == RECORDS  # nothing lost
    assert [key for key, n in counts.items() if n > 1] == []  # nothing handled twice
