"""Wires the evaluate service from the process's adapters and its settings section."""

from __future__ import annotations

import time

from framesift.platform.adapters import Adapters
from framesift.platform.handlers import consumer_for
from framesift.platform.operators import OperatorToken
from framesift.platform.runner import ServiceUnit
from framesift.sql.engine import sql_ready

from . import migrations, slices
from .api import EvaluateApi, prune_forever, run_forever
from .grpc_api import EvaluationServicer, register_grpc
from .handlers import HANDLERS, EvaluateDeps
from .http_api import http_router
from .runs import ReportOutbox, publish_forever
from .settings import EvaluateSettings

NAME = "evaluate"
MIGRATIONS = migrations.MIGRATIONS


def evaluate_api(adapters: Adapters, settings: EvaluateSettings) -> EvaluateApi:
    token = adapters.settings.operator_token
    outbox = ReportOutbox(adapters.engine, adapters.publisher())
    return EvaluateApi(
        adapters.engine, settings, outbox, OperatorToken(token.get_secret_value() if token else None), time.time
    )


def build(adapters: Adapters, settings: EvaluateSettings) -> ServiceUnit:
    for name in settings.slices:  # a bad FRAMESIFT_EVALUATE__SLICES fails the start, naming it
        slices.dimension_name(name)
    api = evaluate_api(adapters, settings)
    return ServiceUnit(
        name=NAME,
        consumers=[consumer_for(HANDLERS, EvaluateDeps(adapters.engine), group=settings.group)],
        routers=[http_router(api)],
        grpc_services=[register_grpc(EvaluationServicer(api))],
        readiness=[lambda: sql_ready(adapters.engine)],
        starters=[api.outbox.publish],  # what a crash left stored but unsent
        flushers=[api.outbox.publish],
        background=[lambda: publish_forever(api.outbox), lambda: run_forever(api), lambda: prune_forever(api)],
    )
