"""Embed's use case: one FrameChecked in, vectors in Qdrant, one FrameEmbedded out.

Idempotent: the point id is derived from the frame id, so a redelivered frame overwrites its own
point and publishes the same event again.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import Executor
from dataclasses import dataclass

from framesift.bus.delivery import RetryableError
from framesift.bus.events import EventPublisher
from framesift.contracts.codec import require_frame_fields
from framesift.contracts.vocabulary import seconds
from framesift.inference.backends.base import EmbeddingBackend, FrameEmbedding, InferenceUnavailableError, close_backend
from framesift.inference.preprocess import prepare
from framesift.runtime import metrics
from framesift.store.base import ObjectStore, StoreUnavailableError
from framesift.v1 import frames_pb2
from framesift.vectors.qdrant import FrameVectors, VectorStoreUnavailableError

from .batching import MicroBatcher


@dataclass
class EmbedDeps:
    store: ObjectStore
    backend: EmbeddingBackend
    vectors: FrameVectors
    publisher: EventPublisher
    executor: Executor | None = None
    batcher: MicroBatcher | None = None  # None: one frame per backend call

    async def close(self) -> None:
        if self.batcher is not None:
            await self.batcher.close()
        await self.vectors.close()
        await close_backend(self.backend)
        if self.executor is not None:
            self.executor.shutdown(wait=True)

    async def embed(self, pixels) -> FrameEmbedding:
        if self.batcher is not None:
            return await self.batcher.embed(pixels)
        [embedding] = await self.backend.embed_images(pixels[None])
        return embedding


async def embed_frame(event: frames_pb2.FrameChecked, deps: EmbedDeps) -> frames_pb2.FrameEmbedded:
    frame = event.frame
    require_frame_fields(event, event.camera_id, frame.object_key)
    try:
        data = await deps.store.get(frame.object_key)
        prepared = await asyncio.get_running_loop().run_in_executor(
            deps.executor, prepare, data, deps.backend.input_size
        )
        embedding = await deps.embed(prepared.pixels)
        point_id = await deps.vectors.upsert(event.frame_id, _vectors(embedding), _payload(event, deps, embedding))
    except (StoreUnavailableError, InferenceUnavailableError, VectorStoreUnavailableError) as exc:
        raise RetryableError(str(exc)) from exc
    embedded = frames_pb2.FrameEmbedded(
        frame_id=event.frame_id,
        camera_id=event.camera_id,
        frame=frame,
        model_name=deps.backend.name,
        model_version=deps.backend.version,
        point_id=point_id,
        metrics=dict(event.metrics),
        margins=dict(event.margins),
        has_detector=deps.backend.has_detector,
        detections=[
            frames_pb2.Detection(
                class_name=d.class_name,
                class_id=d.class_id,
                score=d.score,
                box=frames_pb2.Box(x_min=d.box[0], y_min=d.box[1], x_max=d.box[2], y_max=d.box[3]),
            )
            for d in embedding.detections
        ],
    )
    await deps.publisher.publish(embedded)
    metrics.FRAMES_EMBEDDED.labels(deps.backend.name).inc()
    return embedded


def _vectors(embedding: FrameEmbedding) -> dict[str, list[float]]:
    return {name: vector.astype(float).tolist() for name, vector in embedding.vectors.items()}


def _payload(event: frames_pb2.FrameChecked, deps: EmbedDeps, embedding: FrameEmbedding) -> dict[str, object]:
    return {
        "frame_id": event.frame_id,
        "camera_id": event.camera_id,
        "captured_at": seconds(event.frame.captured_at),
        "object_key": event.frame.object_key,
        "classes": sorted({d.class_name for d in embedding.detections}),
        "backend": f"{deps.backend.name}/{deps.backend.version}",
    }


# Where each event goes (framesift.platform.handlers turns this into the consumer).
HANDLERS = {frames_pb2.FrameChecked: embed_frame}
