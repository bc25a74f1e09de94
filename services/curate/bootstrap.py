"""Wires the curate service from the process's adapters."""

from __future__ import annotations

from framesift.adapters import Adapters
from framesift.bus.base import Record
from framesift.bus.events import on_event
from framesift.runner import ConsumerSpec, ServiceUnit
from framesift.topics import FRAMES_CHECKED, FRAMES_EMBEDDED, FRAMES_INGESTED, FRAMES_REJECTED, LABELS_COMPLETED

from ..embed.bootstrap import build_backend, build_vectors
from .api import CurationApi
from .changes import FrameChanges, listen, shared
from .curator import Curator
from .grpc_api import CurationServicer, register_grpc
from .http_api import http_router

NAME = "curate"


def curator_for(adapters: Adapters) -> Curator:
    settings = adapters.settings
    return Curator(
        engine=adapters.engine,
        vectors=build_vectors(settings, None),  # a reader of the collection embed writes
        publisher=adapters.publisher(),
        settings=settings.curate,
        blur_limit_px=settings.quality.blurry_edge_px,
        changes=FrameChanges(),
    )


def build(adapters: Adapters) -> ServiceUnit:
    curator = curator_for(adapters)
    api = CurationApi(
        adapters.engine, curator.vectors, curator.settings, curator.changes, lambda: build_backend(adapters.settings)
    )
    handlers = {
        FRAMES_INGESTED: curator.on_ingested,
        FRAMES_CHECKED: curator.on_checked,
        FRAMES_REJECTED: curator.on_rejected,
        FRAMES_EMBEDDED: curator.on_embedded,
        LABELS_COMPLETED: curator.on_labelled,
    }

    routes = {topic.name: on_event(topic, handle) for topic, handle in handlers.items()}

    async def handle_record(record: Record) -> None:
        await routes[record.topic](record)

    async def close() -> None:
        await api.close()
        await curator.vectors.close()

    return ServiceUnit(
        name=NAME,
        # One member for every topic: the read model wants each frame's events in one place.
        consumers=[ConsumerSpec(topics=list(routes), group=adapters.settings.curate.group, handler=handle_record)],
        routers=[http_router(api)],
        grpc_services=[register_grpc(CurationServicer(api))],
        readiness=[adapters.store.ready],
        closers=[close],
        flushers=[curator.flush],
        background=[
            *([curator.close_idle_windows_forever] if adapters.settings.curate.idle_close_s else []),
            # PostgreSQL: hear every replica's changes (WatchFrames); SQLite is one process.
            *([lambda: listen(adapters.engine, curator.changes)] if shared(adapters.engine) else []),
        ],
    )
