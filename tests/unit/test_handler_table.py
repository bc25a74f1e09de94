"""The handler table's staged use cases: prepared ahead, decided in order, failures on the usual path."""

from __future__ import annotations

import asyncio

from framesift.bus.delivery import RetryPolicy
from framesift.bus.events import EventPublisher
from framesift.bus.inprocess import InProcessBus
from framesift.contracts.topics import FRAMES_INGESTED
from framesift.platform.handlers import Staged, consumer_for
from framesift.v1 import frames_pb2
from tests.support.waiting import eventually


class Deps:
    def __init__(self) -> None:
        self.prepared: list[str] = []
        self.decided: list[tuple[str, str | None]] = []
        self.gate = asyncio.Event()
        self.broken_prepare = {"f-2"}


async def prepare(event: frames_pb2.FrameIngested, deps: Deps) -> str:
    deps.prepared.append(event.frame_id)
    if event.frame_id in deps.broken_prepare:
        raise OSError("object store hiccup")
    return "measured " + event.frame_id


async def decide(event: frames_pb2.FrameIngested, deps: Deps, measured: str | None) -> None:
    if event.frame_id == "f-0":
        await deps.gate.wait()  # hold the first decision: the next ones are prepared meanwhile
    deps.decided.append((event.frame_id, measured))


async def test_staged_records_are_prepared_ahead_and_decided_in_order() -> None:
    bus = InProcessBus(partitions=1)
    await bus.start()
    publisher = EventPublisher(bus)
    for i in range(8):
        await publisher.publish(frames_pb2.FrameIngested(frame_id=f"f-{i}", camera_id="cam-1", object_key=f"k/{i}"))
    deps = Deps()
    spec = consumer_for({frames_pb2.FrameIngested: Staged(prepare, decide)}, deps, group="g", lookahead=3)
    consumer = bus.consumer(spec.topics, spec.group, spec.handler, service="test", policy=RetryPolicy())
    task = asyncio.create_task(consumer.run())
    try:
        # While f-0 is being decided, the three after it are prepared, and no more.
        await eventually(lambda: len(deps.prepared) == 4, timeout=10, what="three prepared ahead")
        assert deps.prepared == ["f-0", "f-1", "f-2", "f-3"]
        assert deps.decided == []
        deps.gate.set()
        await eventually(lambda: len(deps.decided) == 8, timeout=10, what="all decided")
        assert [frame for frame, _ in deps.decided] == [f"f-{i}" for i in range(8)]
        # A failed prepare leaves the work to decide (None), which takes the usual retry path.
        assert dict(deps.decided)["f-2"] is None
        assert dict(deps.decided)["f-5"] == "measured f-5"
        assert bus.lag(FRAMES_INGESTED.name, "g") == 0
    finally:
        deps.gate.set()
        await consumer.stop()
        await asyncio.wait_for(task, timeout=10)
        await bus.stop()
