"""Frame vectors in Qdrant: local mode (a folder) for the embedded default, a server by URL.

One point per frame, its id derived from the frame id, so a redelivered frame overwrites its own
point. Vectors are named after the model that made them; the payload carries what queries filter
on (camera, capture time, status, detected classes) and the backend that made the vectors.
"""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

import numpy as np
from qdrant_client import AsyncQdrantClient, models
from qdrant_client.http.exceptions import ResponseHandlingException

from framesift.runtime.settings import PlatformSettings

# Fixed namespace: point ids must not change between releases.
_POINT_NAMESPACE = uuid.UUID("6f1c3a52-7e0b-4d8e-9a51-0c2f4b8d9e17")
PAYLOAD_INDEXES = {
    "camera_id": models.PayloadSchemaType.KEYWORD,
    "captured_at": models.PayloadSchemaType.FLOAT,  # seconds since the epoch
    "status": models.PayloadSchemaType.KEYWORD,
    "classes": models.PayloadSchemaType.KEYWORD,
}


# What a Qdrant outage looks like from the client (the HTTP client wraps connection errors).
_UNREACHABLE = (OSError, ConnectionError, ResponseHandlingException)


class VectorStoreUnavailableError(RuntimeError):
    """Qdrant could not be reached (or, for a reader, its collection does not exist yet)."""


class _NotCreatedYet(RuntimeError):
    pass


def point_id_for(frame_id: str) -> str:
    return str(uuid.uuid5(_POINT_NAMESPACE, frame_id))


# Qdrant's local mode allows one client per folder; the services of one process share it.
_LOCAL_CLIENTS: dict[str, tuple[AsyncQdrantClient, int]] = {}


class LocalFolderInUseError(RuntimeError):
    """Another process holds the local-mode folder (local mode is one process per folder)."""


def _open_local(path: str) -> AsyncQdrantClient:
    client, users = _LOCAL_CLIENTS.get(path, (None, 0))
    if client is None:
        try:
            client = AsyncQdrantClient(path=path)
        except RuntimeError as exc:
            if "already accessed" not in str(exc):
                raise
            raise LocalFolderInUseError(
                f"Qdrant's local mode folder {path} is used by another process, and local mode is one "
                "process per folder: run embed and curate in one process (framesift up), or give every "
                "process a Qdrant server (FRAMESIFT_QDRANT_URL)"
            ) from exc
    _LOCAL_CLIENTS[path] = (client, users + 1)
    return client


async def _close_local(path: str) -> None:
    client, users = _LOCAL_CLIENTS.pop(path)
    if users > 1:
        _LOCAL_CLIENTS[path] = (client, users - 1)
    else:
        await client.close()


class FrameVectors:
    """`vector_sizes=None`: a reader (curate) that uses the collection the embed service made."""

    def __init__(
        self,
        collection: str,
        vector_sizes: dict[str, int] | None,
        *,
        url: str | None = None,
        api_key: str | None = None,
        path: Path | None = None,
    ) -> None:
        if (url is None) == (path is None):
            raise ValueError("give exactly one of a Qdrant url or a local path")
        self.collection = collection
        self.vector_sizes = dict(vector_sizes) if vector_sizes is not None else None
        self._options: dict[str, Any] = {"url": url, "api_key": api_key} if url else {"path": str(path)}
        self._client: AsyncQdrantClient | None = None
        self._local = url is None
        self._prepared = False
        self._lock = asyncio.Lock()

    async def open(self) -> AsyncQdrantClient:
        """The client, without touching the collection; in local mode this takes the folder, so a
        second process on it fails here, at its start, with LocalFolderInUseError."""
        async with self._lock:
            return await self._connect()

    async def _connect(self) -> AsyncQdrantClient:
        if self._client is None:
            if self._local:
                await asyncio.to_thread(Path(self._options["path"]).mkdir, parents=True, exist_ok=True)
                self._client = _open_local(self._options["path"])
            else:
                self._client = AsyncQdrantClient(**self._options)
        return self._client

    async def start(self) -> AsyncQdrantClient:
        """Connect and create the collection if missing (on first use; again after a failure)."""
        async with self._lock:
            await self._connect()
            if not self._prepared:
                try:
                    await self._prepare(self._client)
                except (*_UNREACHABLE, _NotCreatedYet) as exc:
                    raise VectorStoreUnavailableError(f"Qdrant unavailable: {exc}") from exc
                self._prepared = True
            return self._client

    async def _prepare(self, client: AsyncQdrantClient) -> None:
        if self.vector_sizes is None:  # a reader: the writer creates the collection
            if not await client.collection_exists(self.collection):
                raise _NotCreatedYet(f"Qdrant collection {self.collection!r} does not exist yet")
            self.vector_sizes = await self._sizes_in(client)
            return
        if not await client.collection_exists(self.collection):
            await client.create_collection(
                self.collection,
                vectors_config={
                    name: models.VectorParams(size=size, distance=models.Distance.COSINE)
                    for name, size in self.vector_sizes.items()
                },
            )
        if not self._local:  # local mode has no payload indexes (and warns)
            for field, schema in PAYLOAD_INDEXES.items():
                await client.create_payload_index(self.collection, field, field_schema=schema)
        await self._check_vectors(client)

    async def _check_vectors(self, client: AsyncQdrantClient) -> None:
        """A collection made for another model would silently mix spaces: refuse it."""
        vector_sizes = self.vector_sizes
        have = await self._sizes_in(client)
        missing = {name: size for name, size in vector_sizes.items() if have.get(name) != size}
        if missing:
            raise ValueError(
                f"Qdrant collection {self.collection!r} has vectors {have}, the backend makes {vector_sizes}: "
                "use another FRAMESIFT_QDRANT_COLLECTION"
            )

    async def _sizes_in(self, client: AsyncQdrantClient) -> dict[str, int]:
        """The collection's named vectors and their sizes (none for an unnamed vector)."""
        info = await client.get_collection(self.collection)
        existing = info.config.params.vectors
        return {name: params.size for name, params in existing.items()} if isinstance(existing, dict) else {}

    async def ready(self) -> bool:
        try:
            client = await self.start()
            return await client.collection_exists(self.collection)
        except Exception:
            return False

    async def upsert(self, frame_id: str, vectors: dict[str, list[float]], payload: dict[str, Any]) -> str:
        point_id = point_id_for(frame_id)
        client = await self.start()
        try:
            await client.upsert(
                self.collection,
                points=[models.PointStruct(id=point_id, vector=vectors, payload=payload)],
                wait=True,
            )
        except _UNREACHABLE as exc:
            raise VectorStoreUnavailableError(f"Qdrant unavailable: {exc}") from exc
        return point_id

    @property
    def vector_name(self) -> str:
        """The vector queries use: CLIP's where the collection has it, else its only one."""
        names = list(self.vector_sizes or {})
        if not names:
            raise VectorStoreUnavailableError(f"Qdrant collection {self.collection!r} is not open yet")
        return "clip" if "clip" in names else names[0]

    async def vectors(self, point_ids: list[str]) -> dict[str, np.ndarray]:
        """Point id -> its vector (the query vector name); missing points are left out."""
        client = await self.start()
        try:
            points = await client.retrieve(self.collection, point_ids, with_vectors=[self.vector_name])
        except _UNREACHABLE as exc:
            raise VectorStoreUnavailableError(f"Qdrant unavailable: {exc}") from exc
        return {str(p.id): np.asarray(p.vector[self.vector_name], dtype=np.float32) for p in points}

    async def nearest(
        self,
        queries: list[np.ndarray],
        *,
        limit: int,
        cameras: list[str] | None = None,
        classes: list[str] | None = None,
        exclude: list[str] | None = None,
    ) -> list[list[tuple[str, float]]]:
        """For each query vector, the nearest frames' (frame id, cosine similarity), best first."""
        client = await self.start()
        must: list = [
            models.FieldCondition(key=key, match=models.MatchAny(any=values))
            for key, values in (("camera_id", cameras), ("classes", classes))
            if values
        ]
        must_not = [models.HasIdCondition(has_id=exclude)] if exclude else []
        condition = models.Filter(must=must, must_not=must_not) if must or must_not else None
        requests = [
            models.QueryRequest(
                query=vector.astype(float).tolist(),
                using=self.vector_name,
                filter=condition,
                limit=limit,
                with_payload=["frame_id"],
            )
            for vector in queries
        ]
        try:
            responses = await client.query_batch_points(self.collection, requests) if requests else []
        except _UNREACHABLE as exc:
            raise VectorStoreUnavailableError(f"Qdrant unavailable: {exc}") from exc
        return [[(str(p.payload["frame_id"]), float(p.score)) for p in r.points] for r in responses]

    async def set_status(self, point_ids: list[str], status: str) -> None:
        """Keeps the payload's status in step with curation (for clients filtering Qdrant directly)."""
        if not point_ids:
            return
        client = await self.start()
        try:
            await client.set_payload(self.collection, {"status": status}, points=point_ids, wait=True)
        except _UNREACHABLE as exc:
            raise VectorStoreUnavailableError(f"Qdrant unavailable: {exc}") from exc

    async def close(self) -> None:
        if self._client is not None:
            if self._local:
                await _close_local(self._options["path"])
            else:
                await self._client.close()
            self._client = None


def build_vectors(settings: PlatformSettings, vector_sizes: dict[str, int] | None) -> FrameVectors:
    """The frames' collection from settings: a Qdrant server by URL, else local mode under the data dir
    (one client per folder and process, shared by every FrameVectors on it)."""
    if settings.qdrant_url:
        key = settings.qdrant_api_key.get_secret_value() if settings.qdrant_api_key else None
        return FrameVectors(settings.qdrant_collection, vector_sizes, url=settings.qdrant_url, api_key=key)
    return FrameVectors(settings.qdrant_collection, vector_sizes, path=settings.qdrant_path)
