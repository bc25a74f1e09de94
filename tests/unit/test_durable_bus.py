"""The embedded default's bus: the in-process contract, plus a log and offsets that survive a restart."""

from __future__ import annotations

import asyncio

import pytest

from framesift.bus.base import BusUnavailableError, Record
from framesift.bus.delivery import RetryPolicy
from framesift.bus.durable import BusLockedError, DurableBus
from tests.contract.bus_contract import BusContract
from tests.support.waiting import eventually


class TestDurableBus(BusContract):
    @pytest.fixture
    async def bus(self, tmp_path):
        bus = DurableBus(tmp_path / "bus.db", partitions=4)
        await bus.start()
        yield bus
        await bus.stop()


async def consume_all(bus: DurableBus, topic: str, group: str, expected: int) -> list[Record]:
    seen: list[Record] = []

    async def handle(record: Record) -> None:
        seen.append(record)

    consumer = bus.consumer([topic], group, handle, service="test", policy=RetryPolicy(2, 0.01, 0.01))
    task = asyncio.create_task(consumer.run())
    await eventually(lambda: len(seen) >= expected and bus.lag(topic, group) == 0, what=f"{expected} records")
    await consumer.stop()
    await task
    return seen


async def test_unconsumed_records_survive_a_restart_and_committed_ones_are_not_redelivered(tmp_path) -> None:
    path = tmp_path / "bus.db"
    bus = DurableBus(path, partitions=3)
    await bus.start()
    for i in range(6):
        await bus.publish("frames", f"cam-{i % 2}", f"v{i}".encode(), (("h", bytes([i])),))
    first = await consume_all(bus, "frames", "quality", 6)
    await bus.publish("frames", "cam-0", b"after", ())
    await bus.stop()  # the process ends before "after" is consumed

    again = DurableBus(path, partitions=3)
    await again.start()
    assert [r.value for r in again.records("frames") if r.key == "cam-0"] == [b"v0", b"v2", b"v4", b"after"]
    assert again.lag("frames", "quality") == 1
    [redelivered] = await consume_all(again, "frames", "quality", 1)
    assert redelivered.value == b"after"
    assert {r.header("h") for r in first} == {bytes([i]) for i in range(6)}
    await again.stop()


async def test_one_process_at_a_time(tmp_path) -> None:
    owner = DurableBus(tmp_path / "bus.db")
    await owner.start()
    with pytest.raises(BusLockedError, match="--url"):
        await DurableBus(tmp_path / "bus.db").start()
    await owner.stop()
    successor = DurableBus(tmp_path / "bus.db")
    await successor.start()  # released on stop
    await successor.stop()


async def test_a_different_partition_count_is_refused(tmp_path) -> None:
    bus = DurableBus(tmp_path / "bus.db", partitions=3)
    await bus.start()
    await bus.stop()
    with pytest.raises(BusUnavailableError, match="3 partitions"):
        await DurableBus(tmp_path / "bus.db", partitions=4).start()
    again = DurableBus(tmp_path / "bus.db", partitions=3)  # the refused start let go of the lock
    await again.start()
    await again.stop()


async def test_publishing_before_start_fails_loudly(tmp_path) -> None:
    with pytest.raises(BusUnavailableError, match="not started"):
        await DurableBus(tmp_path / "bus.db").publish("t", "k", b"v")


async def test_the_same_bus_object_can_be_stopped_and_started_again(tmp_path) -> None:
    bus = DurableBus(tmp_path / "bus.db", partitions=2)
    await bus.start()
    await bus.publish("t", "k", b"1")
    await bus.stop()
    await bus.start()  # reloads from the file, not on top of what it held
    await bus.publish("t", "k", b"2")
    assert [r.value for r in bus.records("t")] == [b"1", b"2"]
    await bus.stop()
