"""Wires the embed service from the process's adapters."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from framesift.adapters import Adapters
from framesift.bus.events import on_event
from framesift.runner import ConsumerSpec, ServiceUnit
from framesift.settings import EmbedBackendKind, Settings
from framesift.topics import FRAMES_CHECKED

from .backends.base import EmbeddingBackend
from .backends.descriptor import DescriptorBackend
from .batching import MicroBatcher
from .handlers import EmbedDeps, embed_frame
from .models.repository import ModelRepository
from .vectors import FrameVectors

NAME = "embed"


def build_backend(settings: Settings) -> EmbeddingBackend:
    if settings.embed_backend is EmbedBackendKind.DESCRIPTOR:
        return DescriptorBackend()
    if settings.model_repository is None:
        raise ValueError(f"FRAMESIFT_EMBED_BACKEND={settings.embed_backend} needs FRAMESIFT_MODEL_REPOSITORY")
    repository = ModelRepository.open(settings.model_repository)
    if settings.embed_backend is EmbedBackendKind.LOCAL:
        from .backends.local import LocalOnnxBackend

        return LocalOnnxBackend(repository)
    if settings.embed_backend is EmbedBackendKind.TRITON:
        from .backends.triton import TritonBackend

        return TritonBackend(repository, settings.triton_url, backoff_s=settings.retry_backoff_s)
    raise ValueError(f"unknown embed backend {settings.embed_backend!r}")


def build_vectors(settings: Settings, vector_sizes: dict[str, int] | None) -> FrameVectors:
    if settings.qdrant_url:
        key = settings.qdrant_api_key.get_secret_value() if settings.qdrant_api_key else None
        return FrameVectors(settings.qdrant_collection, vector_sizes, url=settings.qdrant_url, api_key=key)
    return FrameVectors(settings.qdrant_collection, vector_sizes, path=settings.qdrant_path)


def embed_deps(adapters: Adapters) -> EmbedDeps:
    settings = adapters.settings
    backend = build_backend(settings)
    return EmbedDeps(
        store=adapters.store,
        backend=backend,
        vectors=build_vectors(settings, backend.vector_sizes),
        publisher=adapters.publisher(),
        executor=ThreadPoolExecutor(settings.embed_workers, thread_name_prefix="embed"),
        batcher=MicroBatcher(backend, max_batch=settings.embed_max_batch, max_wait_s=settings.embed_max_wait_s),
    )


def build(adapters: Adapters) -> ServiceUnit:
    deps = embed_deps(adapters)

    async def handle(event) -> None:
        await embed_frame(deps, event)

    return ServiceUnit(
        name=NAME,
        # Several members of the group in this process, so that frames arrive together to be batched.
        consumers=[
            ConsumerSpec(topics=[FRAMES_CHECKED.name], group=NAME, handler=on_event(FRAMES_CHECKED, handle))
            for _ in range(adapters.settings.embed_concurrency)
        ],
        readiness=[adapters.store.ready, deps.backend.ready, deps.vectors.ready],
        closers=[deps.close],
    )
