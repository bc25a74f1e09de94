"""Objects in S3 or MinIO through the minio client (blocking calls run in threads)."""

from __future__ import annotations

import asyncio
import io
import logging
from collections.abc import Callable
from typing import TypeVar

import urllib3
from minio import Minio
from minio.error import MinioException, S3Error

from framesift.runtime.retry import of_type, with_retries
from framesift.runtime.settings import PlatformSettings
from framesift.store.base import ObjectNotFoundError, StoreUnavailableError, checked_key

log = logging.getLogger(__name__)

_OUTAGES = (MinioException, urllib3.exceptions.HTTPError, OSError)
T = TypeVar("T")


class S3ObjectStore:
    def __init__(self, settings: PlatformSettings, *, attempts: int = 4, backoff_s: float = 0.2) -> None:
        if settings.s3_access_key is None or settings.s3_secret_key is None:
            raise ValueError("FRAMESIFT_S3_ACCESS_KEY and FRAMESIFT_S3_SECRET_KEY must be set for the s3 store")
        self._bucket = settings.s3_bucket
        self._endpoint = settings.s3_endpoint
        self._attempts = attempts
        self._backoff_s = backoff_s
        self._client = Minio(
            settings.s3_endpoint,
            access_key=settings.s3_access_key.get_secret_value(),
            secret_key=settings.s3_secret_key.get_secret_value(),
            secure=settings.s3_secure,
            region=settings.s3_region,
            # Retries are ours (bounded, with backoff); keep each try short.
            http_client=urllib3.PoolManager(
                timeout=urllib3.Timeout(connect=3, read=30), retries=urllib3.Retry(total=0), maxsize=16
            ),
        )

    async def _call(self, what: str, fn: Callable[[], T]) -> T:
        return await with_retries(
            lambda: asyncio.to_thread(fn),
            what=f"object store: {what}",
            # S3Error: the store answered (no such key, access denied): not an outage.
            retry_on=of_type(*_OUTAGES, but=(S3Error,)),
            attempts=self._attempts,
            backoff_s=self._backoff_s,
            gave_up=lambda exc: StoreUnavailableError(
                f"object store at {self._endpoint} unavailable ({what}) after {self._attempts} attempts: {exc}"
            ),
        )

    async def start(self) -> None:
        def ensure_bucket() -> None:
            if not self._client.bucket_exists(self._bucket):
                try:
                    self._client.make_bucket(self._bucket)
                except S3Error as exc:
                    if exc.code not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                        raise

        await self._call("create bucket", ensure_bucket)

    async def ready(self) -> bool:
        try:
            return await asyncio.wait_for(asyncio.to_thread(self._client.bucket_exists, self._bucket), timeout=3)
        except Exception:
            return False

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        key = checked_key(key)
        await self._call(
            f"put {key}",
            lambda: self._client.put_object(self._bucket, key, io.BytesIO(data), len(data), content_type=content_type),
        )

    async def get(self, key: str) -> bytes:
        key = checked_key(key)

        def read() -> bytes:
            response = self._client.get_object(self._bucket, key)
            try:
                return response.read()
            finally:
                response.close()
                response.release_conn()

        try:
            return await self._call(f"get {key}", read)
        except S3Error as exc:
            if exc.code == "NoSuchKey":
                raise ObjectNotFoundError(key) from None
            raise

    async def exists(self, key: str) -> bool:
        key = checked_key(key)
        try:
            await self._call(f"stat {key}", lambda: self._client.stat_object(self._bucket, key))
        except S3Error as exc:
            if exc.code in ("NoSuchKey", "NoSuchObject", "ResourceNotFound"):
                return False
            raise
        return True
