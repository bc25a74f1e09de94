from __future__ import annotations

import pytest
from pydantic import SecretStr

from framesift.app.settings import Settings
from framesift.runtime.settings import StoreKind
from framesift.store.base import StoreUnavailableError
from framesift.store.local import LocalObjectStore
from framesift.store.s3 import S3ObjectStore
from tests.contract.store_contract import StoreContract
from tests.support.servers import free_port


def s3_settings(endpoint: str, bucket: str = "framesift-test") -> Settings:
    return Settings(
        store=StoreKind.S3,
        s3_endpoint=endpoint,
        s3_bucket=bucket,
        s3_secure=False,
        s3_region="us-east-1",
        s3_access_key=SecretStr("test"),
        s3_secret_key=SecretStr("test"),
    )


class TestLocalStore(StoreContract):
    @pytest.fixture
    async def store(self, tmp_path):
        store = LocalObjectStore(tmp_path / "objects")
        await store.start()
        return store


class TestS3Store(StoreContract):
    @pytest.fixture
    async def store(self, s3_endpoint):
        store = S3ObjectStore(s3_settings(s3_endpoint))
        await store.start()  # creates the bucket when missing
        return store


async def test_unreachable_s3_fails_loudly_after_retries() -> None:
    store = S3ObjectStore(s3_settings(f"127.0.0.1:{free_port()}"), attempts=2, backoff_s=0.01)
    assert not await store.ready()
    with pytest.raises(StoreUnavailableError, match="after 2 attempts"):
        await store.put("frames/cam-1/x.jpg", b"x", "image/jpeg")


def test_s3_store_needs_credentials_from_the_environment() -> None:
    with pytest.raises(ValueError, match="FRAMESIFT_S3_ACCESS_KEY"):
        S3ObjectStore(Settings(store=StoreKind.S3))
