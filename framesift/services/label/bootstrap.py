"""Wires the label service from the process's adapters and its settings section."""

from __future__ import annotations

import asyncio
import time

from framesift.platform.adapters import Adapters
from framesift.platform.handlers import consumer_for
from framesift.platform.operators import OperatorToken
from framesift.platform.runner import ServiceUnit
from framesift.sql.engine import sql_ready

from . import migrations
from .api import LabelApi
from .completed import CompletedOutbox, publish_forever
from .grpc_api import LabelServicer, register_grpc
from .handlers import HANDLERS, LabelDeps
from .http_api import http_router
from .settings import LabelSettings

NAME = "label"
MIGRATIONS = migrations.MIGRATIONS


def label_api(adapters: Adapters, settings: LabelSettings) -> LabelApi:
    token = adapters.settings.operator_token
    return LabelApi(
        adapters.engine,
        settings,
        CompletedOutbox(adapters.engine, adapters.publisher(), adapters.settings.splits),
        OperatorToken(token.get_secret_value() if token else None),
        time.time,
        adapters.store,
        adapters.settings.splits,
    )


def build(adapters: Adapters, settings: LabelSettings) -> ServiceUnit:
    api = label_api(adapters, settings)

    async def start() -> None:
        if settings.ontology_file is not None:  # a new version only when the file changed it
            await asyncio.to_thread(api.apply_ontology_file, settings.ontology_file)
        await api.outbox.publish()  # what a crash left between done and published

    return ServiceUnit(
        name=NAME,
        consumers=[
            consumer_for(
                HANDLERS, LabelDeps(adapters.engine, time.time, adapters.settings.splits), group=settings.group
            )
        ],
        routers=[http_router(api)],
        grpc_services=[register_grpc(LabelServicer(api))],
        readiness=[lambda: sql_ready(adapters.engine)],
        starters=[start],
        flushers=[api.outbox.publish],
        background=[lambda: publish_forever(api.outbox)],
    )
