"""Ingest and quality as two deployed processes: tansu (Kafka protocol), S3 over HTTP, PostgreSQL."""

from __future__ import annotations

import uuid

import httpx

from framesift.app.registry import build_adapters
from framesift.contracts.codec import decode
from framesift.contracts.topics import FRAMES_CHECKED, FRAMES_REJECTED
from framesift.services.ingest.cameras import CameraRegistry
from framesift.v1 import frames_pb2
from tests.integration.test_ingest_distributed import distributed_settings, read_topic
from tests.support.running import running
from tests.support.scenes import blurred, encode, scene


async def test_uploads_come_out_of_quality_as_verdicts_on_kafka(
    kafka_bootstrap, kafka_idempotence, s3_endpoint, postgres_url
):
    # tansu answers a group join after about 5 s: give requests more than that.
    settings = distributed_settings(kafka_bootstrap, kafka_idempotence, s3_endpoint, postgres_url).model_copy(
        update={"kafka_request_timeout_ms": 15_000}
    )
    ingest = build_adapters(settings, client_id="ingest")
    quality = build_adapters(settings, client_id="quality")  # its own bus client and engine
    camera = f"cam-{uuid.uuid4().hex[:6]}"
    await ingest.start()
    key = CameraRegistry(ingest.engine).add(camera)
    original = scene(seed=81)
    uploads = [encode(original), encode(original, quality=30), encode(blurred(scene(seed=82), 6))]
    try:
        async with running(quality, ["quality"]), running(ingest, ["ingest"]) as front:
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{front.http_port}", timeout=30) as client:
                auth = {"Authorization": f"Bearer {key}"}
                ids = []
                for data in uploads:
                    response = await client.post(f"/v1/cameras/{camera}/frames", content=data, headers=auth)
                    assert response.status_code == 201, response.text
                    ids.append(response.json()["frame_id"])
            checked = [
                event
                for r in await read_topic(kafka_bootstrap, FRAMES_CHECKED.name, 1, timeout=60)
                if (event := decode(FRAMES_CHECKED, r.value, tuple(r.headers))).camera_id == camera
            ]
            rejected = [
                event
                for r in await read_topic(kafka_bootstrap, FRAMES_REJECTED.name, 2, timeout=60)
                if (event := decode(FRAMES_REJECTED, r.value, tuple(r.headers))).camera_id == camera
            ]
    finally:
        ingest.close()
        quality.close()
    assert [event.frame_id for event in checked] == [ids[0]]
    by_id = {event.frame_id: event for event in rejected}
    assert list(by_id[ids[1]].reasons) == [frames_pb2.REJECT_REASON_NEAR_DUPLICATE]
    assert by_id[ids[1]].duplicate_of == ids[0]
    assert list(by_id[ids[2]].reasons) == [frames_pb2.REJECT_REASON_BLURRY]
