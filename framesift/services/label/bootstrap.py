"""Wires the label service from the process's adapters and its settings section."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

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
from .settings import LabellingTool, LabelSettings
from .studio.client import StudioClient
from .studio.http import studio_router
from .studio.sync import StudioSync

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


def studio_unit(adapters: Adapters, settings: LabelSettings, api: LabelApi) -> ServiceUnit:
    """Label Studio as the labelling tool: the sync loop, its webhook and image routes, and
    whether Label Studio answers as part of readiness."""
    config = settings.label_studio
    assert config.url is not None  # LabelSettings requires url, token and secret for this tool
    assert config.token is not None
    assert config.secret is not None
    client = StudioClient(str(config.url), config.token.get_secret_value(), timeout_s=config.timeout_s)
    sync = StudioSync(adapters.engine, api.desk, api.outbox, client, config)
    secret = config.secret.get_secret_value()
    return ServiceUnit(
        name=f"{NAME}-studio",
        routers=[studio_router(sync, adapters.store, adapters.engine, secret)],
        readiness=[sync.ready],
        background=[sync.run_forever],
        closers=[client.aclose],
    )


# The labelling-tool seam: each external tool contributes a unit (its sync loop, the routes it
# calls back on, its readiness) built on the desk's tool-side calls (submit_from_tool, withdraw,
# flag); a CVAT adapter would be one more entry. The built-in tool needs none.
TOOLS: dict[LabellingTool, Callable[[Adapters, LabelSettings, LabelApi], ServiceUnit]] = {
    LabellingTool.LABEL_STUDIO: studio_unit,
}


def build(adapters: Adapters, settings: LabelSettings) -> ServiceUnit:
    api = label_api(adapters, settings)
    tool = TOOLS[settings.tool](adapters, settings, api) if settings.tool in TOOLS else None

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
        routers=[http_router(api), *(tool.routers if tool else ())],
        grpc_services=[register_grpc(LabelServicer(api))],
        readiness=[lambda: sql_ready(adapters.engine), *(tool.readiness if tool else ())],
        starters=[start],
        flushers=[api.outbox.publish],
        background=[lambda: publish_forever(api.outbox), *(tool.background if tool else ())],
        closers=[*(tool.closers if tool else ())],
    )
