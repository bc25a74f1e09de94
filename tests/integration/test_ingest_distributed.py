"""Ingest as deployed: Kafka-protocol broker, S3 over HTTP, PostgreSQL — all real servers."""

from __future__ import annotations

import uuid

import httpx
import pytest
from aiokafka import AIOKafkaConsumer

from framesift.app.registry import build_adapters, create_schema
from framesift.app.settings import Settings
from framesift.bus.kafka import KafkaBus
from framesift.contracts.codec import decode
from framesift.contracts.topics import FRAMES_INGESTED
from framesift.runtime.settings import BusKind
from framesift.services.ingest.bootstrap import ingest_deps
from framesift.services.ingest.cameras import CameraRegistry
from framesift.services.ingest.handlers import UploadFrame, ingest_frame
from framesift.sql.engine import make_engine
from framesift.store.base import StoreUnavailableError
from framesift.store.s3 import S3ObjectStore
from tests.integration.test_stores import s3_settings
from tests.support.images import jpeg
from tests.support.running import running
from tests.support.servers import TansuBroker, free_port
from tests.support.waiting import eventually


def distributed_settings(bootstrap: str, idempotence: bool, s3_endpoint: str, database_url: str) -> Settings:
    return s3_settings(s3_endpoint, bucket=f"frames-{uuid.uuid4().hex[:8]}").model_copy(
        update={
            "bus": BusKind.KAFKA,
            "kafka_bootstrap_servers": bootstrap,
            "kafka_idempotence": idempotence,
            "kafka_topic_partitions": 3,
            "kafka_request_timeout_ms": 3000,
            "database_url": database_url,
            "http_port": 0,
            "grpc_port": 0,
            "publish_attempts": 2,
            "retry_backoff_s": 0.05,
        }
    )


async def read_topic(bootstrap: str, topic: str, expected: int, timeout: float = 30.0) -> list:
    """Every record on `topic` (as a fresh reader with no group), once at least `expected` arrived."""
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False, group_id=None
    )
    await consumer.start()
    records: list = []
    try:

        async def enough() -> bool:
            for batch in (await consumer.getmany(timeout_ms=200)).values():
                records.extend(batch)
            return len(records) >= expected

        await eventually(enough, timeout=timeout, what=f"{expected} records on {topic}")
        # Anything beyond `expected` that is already there shows up in one more fetch.
        for batch in (await consumer.getmany(timeout_ms=500)).values():
            records.extend(batch)
    finally:
        await consumer.stop()
    return records


async def test_upload_lands_in_s3_and_on_kafka_once(kafka_bootstrap, kafka_idempotence, s3_endpoint, postgres_url):
    settings = distributed_settings(kafka_bootstrap, kafka_idempotence, s3_endpoint, postgres_url)
    adapters = build_adapters(settings, client_id="ingest-test")
    camera = f"cam-{uuid.uuid4().hex[:6]}"
    await adapters.start()
    key = CameraRegistry(adapters.engine).add(camera)
    data = jpeg(color=(3, 99, 3))
    try:
        async with running(adapters) as runner:
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{runner.http_port}") as client:
                auth = {"Authorization": f"Bearer {key}"}
                first = await client.post(f"/v1/cameras/{camera}/frames", content=data, headers=auth)
                repeat = await client.post(f"/v1/cameras/{camera}/frames", content=data, headers=auth)
                other = await client.post(f"/v1/cameras/{camera}/frames", content=jpeg(color=(200, 0, 0)), headers=auth)
                assert (await client.get("/readyz")).status_code == 200
        assert first.status_code == 201, first.text
        assert repeat.status_code == 200
        assert other.status_code == 201
        body = first.json()
        assert await adapters.store.get(body["object_key"]) == data
        records = [r for r in await read_topic(kafka_bootstrap, FRAMES_INGESTED.name, 2) if r.key == camera.encode()]
        frame_ids = [decode(FRAMES_INGESTED, r.value, tuple(r.headers)).frame_id for r in records]
        assert frame_ids == [body["frame_id"], other.json()["frame_id"]]  # once each, in order
        # Cameras and the ledger live in PostgreSQL: a second engine sees them.
        assert CameraRegistry(make_engine(postgres_url)).exists(camera)
    finally:
        adapters.close()


async def test_broker_outage_fails_the_upload_and_the_retry_after_recovery_announces_once(
    s3_endpoint, postgres_url, tmp_path
):
    broker = TansuBroker(log_path=tmp_path / "tansu.log").start()
    settings = distributed_settings(broker.bootstrap, False, s3_endpoint, postgres_url)
    adapters = build_adapters(settings, client_id="outage-test")
    camera = f"cam-{uuid.uuid4().hex[:6]}"
    await adapters.start()
    key = CameraRegistry(adapters.engine).add(camera)
    data = jpeg(color=(120, 50, 200))
    try:
        async with running(adapters) as runner:
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{runner.http_port}", timeout=60) as client:
                auth = {"Authorization": f"Bearer {key}"}
                broker.stop()
                failed = await client.post(f"/v1/cameras/{camera}/frames", content=data, headers=auth)
                assert failed.status_code == 503, failed.text
                assert failed.json()["code"] == "unavailable"
                assert "did not acknowledge" in failed.json()["detail"]
                assert (await client.get("/readyz")).status_code == 503
                broker.start()  # same port; the memory engine starts empty
                await KafkaBus(settings, client_id="admin").ensure_topics([FRAMES_INGESTED.name])
                retried = await client.post(f"/v1/cameras/{camera}/frames", content=data, headers=auth)
                assert retried.status_code == 201, retried.text
                repeat = await client.post(f"/v1/cameras/{camera}/frames", content=data, headers=auth)
                assert repeat.status_code == 200
        records = await read_topic(broker.bootstrap, FRAMES_INGESTED.name, 1)
        assert [decode(FRAMES_INGESTED, r.value).frame_id for r in records] == [retried.json()["frame_id"]]
    finally:
        adapters.close()
        broker.stop()


async def test_object_store_outage_fails_the_upload_and_nothing_is_announced(
    kafka_bootstrap, kafka_idempotence, postgres_url
):
    settings = distributed_settings(kafka_bootstrap, kafka_idempotence, f"127.0.0.1:{free_port()}", postgres_url)
    adapters = build_adapters(settings, store=S3ObjectStore(settings, attempts=2, backoff_s=0.01))
    create_schema(adapters.engine)  # adapters.start() would fail: the store is down
    camera = f"cam-{uuid.uuid4().hex[:6]}"
    await adapters.bus.start()
    try:
        with pytest.raises(StoreUnavailableError, match="after 2 attempts"):
            await ingest_frame(
                UploadFrame(camera, jpeg(color=(5, 5, 250))), ingest_deps(adapters, adapters.settings.ingest)
            )
    finally:
        await adapters.bus.stop()
        adapters.close()
    # The frame can be re-sent: no event and no ledger entry marked as announced.
    records = await read_topic(kafka_bootstrap, FRAMES_INGESTED.name, 0, timeout=5)
    assert all(r.key != camera.encode() for r in records)
