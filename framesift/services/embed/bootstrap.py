"""Wires the embed service from the process's adapters and its settings section."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from framesift.inference.factory import build_backend
from framesift.platform.adapters import Adapters
from framesift.platform.handlers import consumer_for
from framesift.platform.runner import ServiceUnit
from framesift.vectors.qdrant import build_vectors

from .batching import MicroBatcher
from .handlers import HANDLERS, EmbedDeps
from .settings import EmbedSettings

NAME = "embed"
MIGRATIONS: list = []  # embed keeps no SQL tables: its output is in Qdrant and on frames.embedded


def embed_deps(adapters: Adapters, settings: EmbedSettings) -> EmbedDeps:
    backend = build_backend(adapters.settings)
    return EmbedDeps(
        store=adapters.store,
        backend=backend,
        vectors=build_vectors(adapters.settings, backend.vector_sizes),
        publisher=adapters.publisher(),
        executor=ThreadPoolExecutor(settings.workers, thread_name_prefix="embed"),
        batcher=MicroBatcher(backend, max_batch=settings.max_batch, max_wait_s=settings.max_wait_s),
    )


def build(adapters: Adapters, settings: EmbedSettings) -> ServiceUnit:
    deps = embed_deps(adapters, settings)
    return ServiceUnit(
        name=NAME,
        # Several members of the group in this process, so that frames arrive together to be batched.
        consumers=[consumer_for(HANDLERS, deps, group=NAME) for _ in range(settings.concurrency)],
        readiness=[adapters.store.ready, deps.backend.ready, deps.vectors.ready],
        closers=[deps.close],
        starters=[deps.vectors.open],
    )
