"""How ingest's failures read to clients, on HTTP and on gRPC alike."""

from __future__ import annotations

from dataclasses import dataclass

import grpc

from framesift.bus.base import BusUnavailableError
from framesift.identifiers import InvalidIdentifierError
from framesift.store.base import StoreUnavailableError

from .cameras import UnauthenticatedError
from .handlers import CapturedInFutureError, FrameTooLargeError, NotAnImageError


@dataclass(frozen=True)
class ClientError:
    http_status: int
    grpc_code: grpc.StatusCode
    name: str


_BY_TYPE: dict[type[Exception], ClientError] = {
    InvalidIdentifierError: ClientError(400, grpc.StatusCode.INVALID_ARGUMENT, "invalid_identifier"),
    UnauthenticatedError: ClientError(401, grpc.StatusCode.UNAUTHENTICATED, "unauthenticated"),
    FrameTooLargeError: ClientError(413, grpc.StatusCode.RESOURCE_EXHAUSTED, "too_large"),
    NotAnImageError: ClientError(415, grpc.StatusCode.INVALID_ARGUMENT, "not_an_image"),
    CapturedInFutureError: ClientError(422, grpc.StatusCode.INVALID_ARGUMENT, "clock_ahead"),
    # Nothing was announced: the client should retry later (the retry is idempotent).
    BusUnavailableError: ClientError(503, grpc.StatusCode.UNAVAILABLE, "unavailable"),
    StoreUnavailableError: ClientError(503, grpc.StatusCode.UNAVAILABLE, "unavailable"),
}


def client_error(exc: Exception) -> ClientError | None:
    for kind, error in _BY_TYPE.items():
        if isinstance(exc, kind):
            return error
    return None
