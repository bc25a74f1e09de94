"""Wires the ingest service from the process's adapters and its settings section."""

from __future__ import annotations

from datetime import timedelta

from framesift.platform.adapters import Adapters
from framesift.platform.runner import ServiceUnit

from . import migrations
from .cameras import CameraRegistry
from .grpc_api import IngestServicer, register_grpc
from .handlers import IngestDeps
from .http_api import http_router
from .ledger import UploadLedger
from .settings import IngestSettings

NAME = "ingest"
MIGRATIONS = migrations.MIGRATIONS


def ingest_deps(adapters: Adapters, settings: IngestSettings) -> IngestDeps:
    return IngestDeps(
        store=adapters.store,
        ledger=UploadLedger(adapters.engine, window=timedelta(seconds=settings.dedup_window_s)),
        publisher=adapters.publisher(),
        max_upload_bytes=settings.max_upload_bytes,
        max_clock_ahead=timedelta(seconds=settings.max_clock_ahead_s),
    )


def build(adapters: Adapters, settings: IngestSettings) -> ServiceUnit:
    deps = ingest_deps(adapters, settings)
    cameras = CameraRegistry(adapters.engine)
    return ServiceUnit(
        name=NAME,
        routers=[http_router(deps, cameras)],
        grpc_services=[register_grpc(IngestServicer(deps, cameras))],
        readiness=[adapters.store.ready],
        # A gRPC upload carries a whole frame.
        grpc_max_message_bytes=settings.max_upload_bytes + (1 << 20),
    )
