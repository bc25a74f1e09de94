"""Ingest on the embedded default (in-process bus, local folder store, SQLite) over real HTTP and gRPC."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import grpc
import httpx
import pytest

from framesift.app.registry import build_adapters
from framesift.bus.base import BusUnavailableError
from framesift.bus.events import EventPublisher
from framesift.bus.inprocess import InProcessBus
from framesift.contracts.codec import decode
from framesift.contracts.topics import FRAMES_INGESTED
from framesift.services.ingest.bootstrap import ingest_deps
from framesift.services.ingest.cameras import CameraRegistry
from framesift.services.ingest.handlers import (
    CapturedInFutureError,
    FrameTooLargeError,
    NotAnImageError,
    UploadFrame,
    ingest_frame,
)
from framesift.v1 import frames_pb2, ingest_pb2, ingest_pb2_grpc
from tests.support.images import jpeg, png
from tests.support.running import running


@pytest.fixture
async def adapters(embedded_settings):
    adapters = build_adapters(embedded_settings)
    await adapters.start()
    await adapters.bus.start()
    yield adapters
    adapters.close()


def events(bus: InProcessBus) -> list[frames_pb2.FrameIngested]:
    return [decode(FRAMES_INGESTED, r.value, r.headers) for r in bus.records(FRAMES_INGESTED.name)]


async def test_new_frame_is_stored_then_announced_once(adapters) -> None:
    deps = ingest_deps(adapters, adapters.settings.ingest)
    data = jpeg()
    captured = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    first = await ingest_frame(UploadFrame("cam-1", data, captured), deps)
    again = await ingest_frame(UploadFrame("cam-1", data), deps)
    assert first.created is True
    assert again.created is False
    assert again.frame_id == first.frame_id
    assert await adapters.store.get(first.object_key) == data
    [event] = events(adapters.bus)
    assert event.frame_id == first.frame_id
    assert event.camera_id == "cam-1"
    assert event.sha256 == first.sha256
    assert event.size_bytes == len(data)
    assert event.media_type == "image/jpeg"
    assert event.object_key == first.object_key
    assert event.captured_at.ToDatetime(UTC) == captured


async def test_same_bytes_from_another_camera_or_after_the_window_is_a_new_frame(adapters) -> None:
    deps = ingest_deps(adapters, adapters.settings.ingest)
    data = png()
    a = await ingest_frame(UploadFrame("cam-1", data), deps)
    b = await ingest_frame(UploadFrame("cam-2", data), deps)
    assert b.created
    assert b.frame_id != a.frame_id
    later = datetime.now(UTC) + timedelta(seconds=adapters.settings.ingest.dedup_window_s + 1)
    deps.clock = lambda: later
    c = await ingest_frame(UploadFrame("cam-1", data), deps)
    assert c.created
    assert c.frame_id != a.frame_id
    assert len(events(adapters.bus)) == 3


async def test_refusals_store_and_announce_nothing(adapters) -> None:
    deps = ingest_deps(adapters, adapters.settings.ingest)
    deps.max_upload_bytes = 1000
    with pytest.raises(FrameTooLargeError):
        await ingest_frame(UploadFrame("cam-1", jpeg(400, 400, quality=100) + b"\x00" * 1000), deps)
    with pytest.raises(NotAnImageError):
        await ingest_frame(UploadFrame("cam-1", b"just text"), deps)
    now = datetime.now(UTC)
    deps.clock = lambda: now
    with pytest.raises(CapturedInFutureError, match=r"3600 s ahead of the server clock \(tolerance 300 s\)"):
        await ingest_frame(UploadFrame("cam-1", jpeg(color=(4, 5, 6)), now + timedelta(hours=1)), deps)
    with pytest.raises(CapturedInFutureError):  # no zone reads as UTC
        await ingest_frame(
            UploadFrame("cam-1", jpeg(color=(4, 5, 6)), (now + timedelta(hours=1)).replace(tzinfo=None)), deps
        )
    assert events(adapters.bus) == []
    assert not adapters.settings.objects_dir.exists() or not any(adapters.settings.objects_dir.rglob("*.*"))
    # Within the tolerated skew (a camera a little ahead) it is a frame like any other.
    accepted = await ingest_frame(UploadFrame("cam-1", jpeg(color=(4, 5, 6)), now + timedelta(minutes=4)), deps)
    assert accepted.created
    [event] = events(adapters.bus)
    assert event.captured_at.ToDatetime(tzinfo=UTC) == now + timedelta(minutes=4)


class _RefusingBus(InProcessBus):
    """A bus that refuses writes while `down` — a fake for the in-process case only; the same
    failure against a real broker is covered in test_ingest_failures.py."""

    down = True

    async def publish(self, topic, key, value, headers=()):
        if self.down:
            raise BusUnavailableError("broker down")
        await super().publish(topic, key, value, headers)


async def test_publish_failure_fails_the_upload_and_the_retry_announces_it_once(adapters) -> None:
    bus = _RefusingBus()
    deps = ingest_deps(adapters, adapters.settings.ingest)
    deps.publisher = EventPublisher(bus, attempts=2, backoff_s=0)
    data = jpeg(color=(1, 2, 3))
    with pytest.raises(BusUnavailableError, match="after 2 attempts"):
        await ingest_frame(UploadFrame("cam-1", data), deps)
    assert bus.records(FRAMES_INGESTED.name) == []
    bus.down = False
    retried = await ingest_frame(UploadFrame("cam-1", data), deps)
    assert retried.created  # nothing was announced before, so the retry announces it
    again = await ingest_frame(UploadFrame("cam-1", data), deps)
    assert not again.created
    assert [decode(FRAMES_INGESTED, r.value).frame_id for r in bus.records(FRAMES_INGESTED.name)] == [retried.frame_id]


@pytest.fixture
async def served(adapters):
    api_key = CameraRegistry(adapters.engine).add("cam-1")
    async with running(adapters) as runner:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{runner.http_port}") as client:
            yield runner, client, api_key


async def test_http_upload_contract(served, adapters) -> None:
    _runner, client, key = served
    auth = {"Authorization": f"Bearer {key}"}
    data = jpeg(color=(9, 9, 9))
    first = await client.post(
        "/v1/cameras/cam-1/frames", content=data, headers=auth, params={"captured_at": "2026-03-01T10:00:00Z"}
    )
    assert first.status_code == 201, first.text
    body = first.json()
    assert {"frame_id", "sha256", "object_key"} <= body.keys()
    second = await client.post("/v1/cameras/cam-1/frames", content=data, headers=auth)
    assert second.status_code == 200
    assert second.json()["frame_id"] == body["frame_id"]
    assert len(events(adapters.bus)) == 1

    assert (await client.post("/v1/cameras/cam-1/frames", content=data)).status_code == 401
    wrong = await client.post("/v1/cameras/cam-1/frames", content=data, headers={"Authorization": "Bearer fsk_x"})
    assert wrong.status_code == 401
    assert wrong.headers["www-authenticate"] == "Bearer"
    other_camera = await client.post("/v1/cameras/cam-2/frames", content=data, headers=auth)
    assert other_camera.status_code == 401
    not_image = await client.post("/v1/cameras/cam-1/frames", content=b"hello", headers=auth)
    assert not_image.status_code == 415
    assert not_image.json()["code"] == "not_an_image"
    too_big = await client.post("/v1/cameras/cam-1/frames", content=b"\xff\xd8\xff" + b"\0" * (20 << 20), headers=auth)
    assert too_big.status_code == 413
    ahead = await client.post(
        "/v1/cameras/cam-1/frames",
        content=jpeg(color=(9, 9, 8)),
        headers=auth,
        params={"captured_at": "2099-01-01T00:00:00"},
    )
    assert ahead.status_code == 422
    assert ahead.json()["code"] == "clock_ahead"
    assert "check the camera's clock" in ahead.json()["detail"]
    for bad in ("CAM-1", "..%2e", "a%00b", "cam%5c1"):
        response = await client.post(f"/v1/cameras/{bad}/frames", content=data, headers=auth)
        assert 400 <= response.status_code < 500, bad
    assert len(events(adapters.bus)) == 1
    assert (await client.get("/readyz")).status_code == 200
    metrics = (await client.get("/metrics")).text
    assert 'framesift_frames_ingested_total{outcome="repeat"}' in metrics


async def test_http_batch_reports_each_frame(served, adapters) -> None:
    _, client, key = served
    files = [
        ("frames", ("a.jpg", jpeg(color=(50, 1, 1)), "image/jpeg")),
        ("frames", ("b.txt", b"not an image", "text/plain")),
        ("frames", ("c.png", png(color=(1, 50, 1)), "image/png")),
        ("frames", ("a-again.jpg", jpeg(color=(50, 1, 1)), "image/jpeg")),
    ]
    response = await client.post(
        "/v1/cameras/cam-1/frames:batch", files=files, headers={"Authorization": f"Bearer {key}"}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert [item["status"] for item in body["items"]] == [201, 415, 201, 200]
    assert body["accepted"] == 3
    assert body["refused"] == 1
    assert len(events(adapters.bus)) == 2


async def test_a_batch_without_frames_parts_is_refused_naming_the_field(served, adapters) -> None:
    _, client, key = served
    auth = {"Authorization": f"Bearer {key}"}
    wrong_field = await client.post(
        "/v1/cameras/cam-1/frames:batch", files=[("images", ("a.jpg", jpeg(), "image/jpeg"))], headers=auth
    )
    assert wrong_field.status_code == 400
    assert wrong_field.json()["code"] == "no_frames"
    assert "'frames'" in wrong_field.json()["detail"]
    assert "'images'" in wrong_field.json()["detail"]  # says what was sent instead
    raw = await client.post("/v1/cameras/cam-1/frames:batch", content=jpeg(), headers=auth)
    assert raw.status_code == 400
    assert raw.json()["code"] == "not_multipart"
    assert events(adapters.bus) == []  # nothing stored or announced


async def test_grpc_stream_upload(served, adapters) -> None:
    runner, _, key = served
    frames = [jpeg(color=(7, 7, 80 * i)) for i in range(3)]
    requests = [ingest_pb2.UploadFrameRequest(camera_id="cam-1", data=d) for d in frames]
    requests.append(ingest_pb2.UploadFrameRequest(camera_id="cam-1", data=b"nope"))
    requests.append(ingest_pb2.UploadFrameRequest(camera_id="cam-1", data=frames[0]))
    async with grpc.aio.insecure_channel(f"127.0.0.1:{runner.grpc_port}") as channel:
        stub = ingest_pb2_grpc.IngestServiceStub(channel)
        response = await stub.Upload(iter(requests), metadata=[("authorization", f"Bearer {key}")])
        assert response.accepted == 4
        assert response.refused == 1
        assert [r.created for r in response.results] == [True, True, True, False, False]
        assert response.results[3].error == "not_an_image"
        assert response.results[4].frame_id == response.results[0].frame_id
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await stub.Upload(iter(requests[:1]), metadata=[("authorization", "Bearer wrong")])
        assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert len(events(adapters.bus)) == 3


async def test_grpc_health_and_reflection(served) -> None:
    from grpc_health.v1 import health_pb2, health_pb2_grpc
    from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

    runner, _, _ = served
    async with grpc.aio.insecure_channel(f"127.0.0.1:{runner.grpc_port}") as channel:
        health = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest())
        assert health.status == health_pb2.HealthCheckResponse.SERVING
        stub = reflection_pb2_grpc.ServerReflectionStub(channel)
        responses = stub.ServerReflectionInfo(iter([reflection_pb2.ServerReflectionRequest(list_services="")]))
        names = [s.name async for r in responses for s in r.list_services_response.service]
        assert "framesift.v1.IngestService" in names
