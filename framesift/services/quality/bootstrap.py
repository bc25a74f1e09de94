"""Wires the quality service from the process's adapters and its settings section."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from framesift.platform.adapters import Adapters
from framesift.platform.handlers import consumer_for
from framesift.platform.runner import ServiceUnit

from . import migrations
from .handlers import HANDLERS, QualityDeps
from .registry import FrameRegistry
from .settings import QualitySettings

NAME = "quality"
MIGRATIONS = migrations.MIGRATIONS


def quality_deps(adapters: Adapters, settings: QualitySettings) -> QualityDeps:
    return QualityDeps(
        store=adapters.store,
        registry=FrameRegistry(adapters.engine, capacity=settings.dedup_index_max_hashes),
        publisher=adapters.publisher(),
        limits=settings,
        scope=settings.dedup_scope,
        executor=ThreadPoolExecutor(settings.workers, thread_name_prefix="quality"),
    )


def build(adapters: Adapters, settings: QualitySettings) -> ServiceUnit:
    deps = quality_deps(adapters, settings)
    return ServiceUnit(
        name=NAME,
        consumers=[consumer_for(HANDLERS, deps, group=NAME)],
        readiness=[adapters.store.ready],
        closers=[deps.executor.shutdown] if deps.executor is not None else [],
    )
