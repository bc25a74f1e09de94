"""gRPC servicer methods that answer a client's error with its status code: one wrapper for every
service, given the service's table (exception type -> ClientError)."""

from __future__ import annotations

import functools
from collections.abc import Callable

import grpc

from framesift.contracts.errors import ClientError

Classify = Callable[[Exception], ClientError | None]


async def abort(context: grpc.aio.ServicerContext, exc: Exception, classify: Classify) -> None:
    """End the call with the client's error for `exc`; re-raises what is not one (a bug)."""
    error = classify(exc)
    if error is None:
        raise exc
    await context.abort(error.grpc_code, str(exc))


def answering(classify: Classify):
    """A decorator for unary servicer methods: a client's error becomes its status code."""

    def wrap(method):
        @functools.wraps(method)
        async def call(self, request, context: grpc.aio.ServicerContext):
            try:
                return await method(self, request, context)
            except Exception as exc:
                await abort(context, exc, classify)

        return call

    return wrap
