"""Wires the quality service from the process's adapters."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from framesift.adapters import Adapters
from framesift.bus.events import on_event
from framesift.runner import ConsumerSpec, ServiceUnit
from framesift.topics import FRAMES_INGESTED

from .handlers import QualityDeps, check_frame
from .registry import FrameRegistry

NAME = "quality"


def quality_deps(adapters: Adapters) -> QualityDeps:
    settings = adapters.settings
    return QualityDeps(
        store=adapters.store,
        registry=FrameRegistry(adapters.engine, capacity=settings.dedup_index_max_hashes),
        publisher=adapters.publisher(),
        limits=settings.quality,
        scope=settings.dedup_scope,
        executor=ThreadPoolExecutor(settings.quality_workers, thread_name_prefix="quality"),
    )


def build(adapters: Adapters) -> ServiceUnit:
    deps = quality_deps(adapters)

    async def handle(event) -> None:
        await check_frame(deps, event)

    executor = deps.executor
    return ServiceUnit(
        name=NAME,
        consumers=[ConsumerSpec(topics=[FRAMES_INGESTED.name], group=NAME, handler=on_event(FRAMES_INGESTED, handle))],
        readiness=[adapters.store.ready],
        closers=[executor.shutdown] if executor is not None else [],
    )
