"""Wires the curate service from the process's adapters and its settings section."""

from __future__ import annotations

from framesift.inference.factory import build_backend
from framesift.platform.adapters import Adapters
from framesift.platform.handlers import consumer_for
from framesift.platform.operators import OperatorToken
from framesift.platform.runner import ConsumerSpec, ServiceUnit
from framesift.vectors.qdrant import build_vectors

from . import migrations
from .changes import FrameChanges, listen, shared
from .deps import CurateDeps
from .grpc_api import CurationServicer, register_grpc
from .handlers import DEAD_LETTER_TOPICS, HANDLERS, record_dead_letter
from .http_api import http_router
from .images import FrameImages
from .queries import CurationApi
from .selection_run import close_idle_windows_forever, flush
from .settings import CurateSettings

NAME = "curate"
MIGRATIONS = migrations.MIGRATIONS


def curate_deps(adapters: Adapters, settings: CurateSettings) -> CurateDeps:
    return CurateDeps(
        engine=adapters.engine,
        vectors=build_vectors(adapters.settings, None),  # a reader of the collection embed writes
        publisher=adapters.publisher(),
        settings=settings,
        changes=FrameChanges(),
    )


def build(adapters: Adapters, settings: CurateSettings) -> ServiceUnit:
    deps = curate_deps(adapters, settings)
    token = adapters.settings.operator_token
    api = CurationApi(
        adapters.engine,
        deps.vectors,
        settings,
        deps.changes,
        lambda: build_backend(adapters.settings),
        flush=lambda: flush(deps),
        operator=OperatorToken(token.get_secret_value() if token else None),
        images=FrameImages(adapters.store),
    )

    async def close() -> None:
        await api.close()
        await deps.vectors.close()

    return ServiceUnit(
        name=NAME,
        # One member for every topic: the read model wants each frame's events in one place.
        consumers=[
            consumer_for(HANDLERS, deps, group=settings.group),
            # Frames a service gave up on: their dead letters, read by a group of their own.
            ConsumerSpec(
                topics=DEAD_LETTER_TOPICS,
                group=f"{settings.group}-dead-letters",
                handler=lambda record: record_dead_letter(record, deps),
            ),
        ],
        routers=[http_router(api)],
        grpc_services=[register_grpc(CurationServicer(api))],
        readiness=[adapters.store.ready],
        closers=[close],
        starters=[deps.vectors.open],
        flushers=[lambda: flush(deps)],
        background=[
            *([lambda: close_idle_windows_forever(deps)] if settings.idle_close_s else []),
            # PostgreSQL: hear every replica's changes (WatchFrames); SQLite is one process.
            *([lambda: listen(adapters.engine, deps.changes)] if shared(adapters.engine) else []),
        ],
    )
