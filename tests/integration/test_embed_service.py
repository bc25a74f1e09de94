"""The embed service (weights-free descriptor backend) into Qdrant local mode, and a server by URL.

A Qdrant server is used when QDRANT_URL is set; otherwise that variant is skipped (no server
binary ships with the Python packages).
"""

from __future__ import annotations

import os
import uuid

import pytest

from framesift.app.registry import build_adapters
from framesift.bus.delivery import DLQ_ERROR, RetryableError
from framesift.bus.events import EventPublisher
from framesift.contracts.codec import decode
from framesift.contracts.topics import FRAMES_CHECKED, FRAMES_EMBEDDED
from framesift.services.embed.bootstrap import embed_deps
from framesift.services.embed.handlers import embed_frame
from framesift.services.ingest.bootstrap import ingest_deps
from framesift.services.ingest.handlers import UploadFrame, ingest_frame
from framesift.v1 import frames_pb2
from framesift.vectors.qdrant import point_id_for
from tests.support.running import running
from tests.support.scenes import encode, scene
from tests.support.servers import free_port
from tests.support.waiting import eventually


@pytest.fixture
def adapters(embedded_adapters):
    return embedded_adapters


def embedded(bus) -> dict[str, frames_pb2.FrameEmbedded]:
    events = (decode(FRAMES_EMBEDDED, r.value, r.headers) for r in bus.records(FRAMES_EMBEDDED.name))
    return {event.frame_id: event for event in events}


async def test_checked_frames_get_a_point_in_qdrant_and_an_event(adapters) -> None:
    async with running(adapters, ["ingest", "quality", "embed"]):
        accepted = await ingest_frame(
            UploadFrame("cam-1", encode(scene(seed=1))), ingest_deps(adapters, adapters.settings.ingest)
        )
        events = await eventually(lambda: embedded(adapters.bus), timeout=30, what="frames.embedded")
    event = events[accepted.frame_id]
    assert (event.model_name, event.model_version) == ("descriptor", "1")
    assert event.point_id == point_id_for(accepted.frame_id)
    assert event.frame.object_key == accepted.object_key
    assert list(event.detections) == []

    deps = embed_deps(
        adapters, adapters.settings.embed
    )  # a new client on the same local folder: the point was persisted
    client = await deps.vectors.start()
    [point] = await client.retrieve(deps.vectors.collection, ids=[event.point_id], with_vectors=True)
    await deps.close()
    assert point.payload["camera_id"] == "cam-1"
    assert point.payload["frame_id"] == accepted.frame_id
    assert point.payload["backend"] == "descriptor/1"
    assert "status" not in point.payload  # curation's status is curate's to write, not embed's
    assert len(point.vector["descriptor"]) == 160


async def checked_event(adapters, data: bytes) -> frames_pb2.FrameChecked:
    accepted = await ingest_frame(UploadFrame("cam-1", data), ingest_deps(adapters, adapters.settings.ingest))
    return frames_pb2.FrameChecked(
        frame_id=accepted.frame_id,
        camera_id="cam-1",
        frame=frames_pb2.FrameRef(frame_id=accepted.frame_id, camera_id="cam-1", object_key=accepted.object_key),
        margins={"sharpness": 0.75, "exposure": 0.5, "contrast": 0.25},
    )


async def test_redelivery_overwrites_the_same_point(adapters) -> None:
    deps = embed_deps(adapters, adapters.settings.embed)
    event = await checked_event(adapters, encode(scene(seed=2)))
    first = await embed_frame(event, deps)
    again = await embed_frame(event, deps)
    client = await deps.vectors.start()
    count = (await client.count(deps.vectors.collection)).count
    await deps.close()
    assert first == again
    assert count == 1
    assert first.has_detector is False  # the descriptor: no detections means "cannot detect"
    assert dict(first.margins) == dict(event.margins)  # quality's margins carried on for curate


async def test_an_undecodable_frame_is_dead_lettered_with_the_reason(adapters) -> None:
    # Quality stops such frames; one that arrives anyway must not block the partition.
    event = await checked_event(adapters, encode(scene(seed=3))[:4000])
    async with running(adapters, ["embed"]):
        await EventPublisher(adapters.bus).publish(event)
        await eventually(lambda: adapters.bus.records(FRAMES_CHECKED.dlq), what="dead letter")
    [dead] = adapters.bus.records(FRAMES_CHECKED.dlq)
    assert "does not decode" in dict(dead.headers)[DLQ_ERROR].decode()
    assert embedded(adapters.bus) == {}


async def test_qdrant_unreachable_is_retryable_and_not_ready(embedded_settings) -> None:
    settings = embedded_settings.model_copy(update={"qdrant_url": f"http://127.0.0.1:{free_port()}"})
    adapters = build_adapters(settings)
    await adapters.start()
    await adapters.bus.start()
    deps = embed_deps(adapters, adapters.settings.embed)
    event = await checked_event(adapters, encode(scene(seed=4)))
    assert await deps.vectors.ready() is False
    with pytest.raises(RetryableError, match="Qdrant unavailable"):
        await embed_frame(event, deps)
    await deps.close()
    adapters.close()


@pytest.mark.skipif(not os.environ.get("QDRANT_URL"), reason="QDRANT_URL is not set: no Qdrant server to use")
async def test_against_a_qdrant_server(embedded_settings) -> None:
    collection = f"frames_{uuid.uuid4().hex[:8]}"
    settings = embedded_settings.model_copy(
        update={"qdrant_url": os.environ["QDRANT_URL"], "qdrant_collection": collection}
    )
    adapters = build_adapters(settings)
    await adapters.start()
    await adapters.bus.start()
    deps = embed_deps(adapters, adapters.settings.embed)
    event = await checked_event(adapters, encode(scene(seed=5)))
    embedded_event = await embed_frame(event, deps)
    client = await deps.vectors.start()
    [point] = await client.retrieve(collection, ids=[embedded_event.point_id])
    await client.delete_collection(collection)
    await deps.close()
    adapters.close()
    assert point.payload["frame_id"] == event.frame_id
