"""The same contracts against containers (real Kafka with idempotent producers, real MinIO).

Runs where a Docker engine answers (a developer laptop, a CI with Docker); skipped here with the
reason, because these machines have only the docker client.
"""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from framesift.app.settings import Settings
from framesift.bus.kafka import KafkaBus
from framesift.runtime.settings import StoreKind
from framesift.store.s3 import S3ObjectStore
from tests.contract.bus_contract import BusContract
from tests.contract.store_contract import StoreContract
from tests.integration.test_kafka_bus import kafka_settings

pytestmark = pytest.mark.docker


@pytest.fixture(scope="module")
def docker_engine() -> None:
    try:
        import docker

        docker.from_env().ping()
    except Exception as exc:
        pytest.skip(f"no Docker engine answers ({type(exc).__name__}); testcontainers cannot start containers")


@pytest.fixture(scope="module")
def kafka_container(docker_engine):
    from testcontainers.kafka import KafkaContainer

    with KafkaContainer("confluentinc/cp-kafka:7.6.1").with_kraft() as kafka:
        yield kafka.get_bootstrap_server()


@pytest.fixture(scope="module")
def minio_container(docker_engine):
    from testcontainers.minio import MinioContainer

    with MinioContainer() as minio:
        config = minio.get_config()
        yield config["endpoint"], config["access_key"], config["secret_key"]


class TestKafkaBusInContainer(BusContract):
    @pytest.fixture
    async def bus(self, kafka_container):
        bus = KafkaBus(kafka_settings(kafka_container, idempotence=True), client_id="containers")
        await bus.start()
        yield bus
        await bus.stop()


class TestMinioStoreInContainer(StoreContract):
    @pytest.fixture
    async def store(self, minio_container):
        endpoint, access_key, secret_key = minio_container
        store = S3ObjectStore(
            Settings(
                store=StoreKind.S3,
                s3_endpoint=endpoint,
                s3_secure=False,
                s3_bucket="framesift",
                s3_access_key=SecretStr(access_key),
                s3_secret_key=SecretStr(secret_key),
            )
        )
        await store.start()
        return store
