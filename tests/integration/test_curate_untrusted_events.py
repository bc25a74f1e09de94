"""curate validates every event's identifiers with the same shared check as quality and embed:
an empty frame id or an object key that is a path is dead-lettered with the reason, and stored
nowhere (it used to merge into one row, or be served back by the curation API)."""

from __future__ import annotations

import sqlalchemy as sa
from google.protobuf.timestamp_pb2 import Timestamp

from framesift.app.registry import build_adapters
from framesift.bus.delivery import DLQ_ERROR, DLQ_SERVICE
from framesift.bus.events import EventPublisher
from framesift.contracts.topics import FRAMES_CHECKED, FRAMES_INGESTED
from framesift.v1 import frames_pb2
from tests.support.running import running
from tests.support.waiting import eventually


def ingested(frame_id: str, object_key: str) -> frames_pb2.FrameIngested:
    return frames_pb2.FrameIngested(
        frame_id=frame_id, camera_id="cam-1", object_key=object_key, captured_at=Timestamp(seconds=1_795_000_000)
    )


async def test_events_with_bad_identifiers_are_dead_lettered_not_stored(embedded_settings) -> None:
    adapters = build_adapters(embedded_settings, services=["curate"])
    bad = [
        ingested("", "frames/cam-1/a.jpg"),
        ingested("f-etc", "/etc/passwd"),
        ingested("f-up", "frames/../../x"),
        frames_pb2.FrameChecked(
            frame_id="f-checked", camera_id="../cam", frame=frames_pb2.FrameRef(object_key="frames/x.jpg")
        ),
    ]
    good = ingested("f-good", "frames/cam-1/good.jpg")
    async with running(adapters, ["curate"]):
        publisher = EventPublisher(adapters.bus)
        for event in bad:
            # publish() refuses an empty key, so the empty-frame-id event goes out under a camera key.
            topic = FRAMES_INGESTED if isinstance(event, frames_pb2.FrameIngested) else FRAMES_CHECKED
            await adapters.bus.publish(topic.name, "cam-1", event.SerializeToString())
        await publisher.publish(good)

        def dead() -> list:
            return [
                r
                for name in (FRAMES_INGESTED.dlq, FRAMES_CHECKED.dlq)
                for r in adapters.bus.records(name)
                if r.header(DLQ_SERVICE) == b"curate"
            ]

        def stored() -> set[str]:
            with adapters.engine.connect() as connection:
                return set(connection.execute(sa.text("SELECT frame_id FROM curated_frames")).scalars())

        await eventually(lambda: len(dead()) == 4 and "f-good" in stored(), timeout=30, what="4 dead letters")
        reasons = " | ".join(r.header(DLQ_ERROR).decode() for r in dead())
    adapters.close()
    assert stored() == {"f-good"}
    assert "without a frame_id" in reasons
    assert "invalid object key '/etc/passwd'" in reasons
    assert "invalid object key 'frames/../../x'" in reasons
    assert "camera" in reasons
