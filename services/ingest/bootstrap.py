"""Wires the ingest service from the process's adapters."""

from __future__ import annotations

from datetime import timedelta

from framesift.adapters import Adapters
from framesift.runner import ServiceUnit

from .api import IngestServicer, http_router, register_grpc
from .cameras import CameraRegistry
from .handlers import IngestDeps
from .ledger import UploadLedger

NAME = "ingest"


def ingest_deps(adapters: Adapters) -> IngestDeps:
    settings = adapters.settings
    return IngestDeps(
        store=adapters.store,
        ledger=UploadLedger(adapters.engine, window=timedelta(seconds=settings.dedup_window_s)),
        publisher=adapters.publisher(),
        max_upload_bytes=settings.max_upload_bytes,
        max_clock_ahead=timedelta(seconds=settings.max_clock_ahead_s),
    )


def build(adapters: Adapters) -> ServiceUnit:
    deps = ingest_deps(adapters)
    cameras = CameraRegistry(adapters.engine)
    return ServiceUnit(
        name=NAME,
        routers=[http_router(deps, cameras)],
        grpc_services=[register_grpc(IngestServicer(deps, cameras))],
        readiness=[adapters.store.ready],
    )
