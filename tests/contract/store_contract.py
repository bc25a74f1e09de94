"""The object store contract: the local folder and S3 stores pass the same tests."""

from __future__ import annotations

import uuid

import pytest

from framesift.store.base import ObjectNotFoundError, ObjectStore


class StoreContract:
    async def test_put_get_exists(self, store: ObjectStore) -> None:
        key = f"frames/cam-1/{uuid.uuid4().hex}.jpg"
        assert not await store.exists(key)
        await store.put(key, b"bytes", "image/jpeg")
        assert await store.exists(key)
        assert await store.get(key) == b"bytes"

    async def test_put_is_idempotent(self, store: ObjectStore) -> None:
        key = f"frames/cam-1/{uuid.uuid4().hex}.jpg"
        await store.put(key, b"same", "image/jpeg")
        await store.put(key, b"same", "image/jpeg")
        assert await store.get(key) == b"same"

    async def test_missing_object(self, store: ObjectStore) -> None:
        with pytest.raises(ObjectNotFoundError):
            await store.get(f"frames/none/{uuid.uuid4().hex}.jpg")

    @pytest.mark.parametrize("key", ["../escape", "frames/../../etc/passwd", "/abs/key"])
    async def test_refuses_escaping_keys(self, store: ObjectStore, key: str) -> None:
        with pytest.raises(ValueError, match="invalid object key"):
            await store.put(key, b"x", "image/jpeg")

    async def test_ready(self, store: ObjectStore) -> None:
        assert await store.ready()
