"""How ingest's failures read to clients, on HTTP and on gRPC alike."""

from __future__ import annotations

import grpc

from framesift.bus.base import BusUnavailableError
from framesift.contracts import errors as client_errors
from framesift.contracts.errors import ClientError
from framesift.contracts.identifiers import InvalidIdentifierError
from framesift.store.base import StoreUnavailableError

from .cameras import UnauthenticatedError
from .handlers import CapturedInFutureError, FrameTooLargeError, InvalidCaptureTimeError, NotAnImageError

_BY_TYPE: dict[type[Exception], ClientError] = {
    InvalidIdentifierError: ClientError(400, grpc.StatusCode.INVALID_ARGUMENT, "invalid_identifier"),
    UnauthenticatedError: ClientError(401, grpc.StatusCode.UNAUTHENTICATED, "unauthenticated"),
    FrameTooLargeError: ClientError(413, grpc.StatusCode.RESOURCE_EXHAUSTED, "too_large"),
    NotAnImageError: ClientError(415, grpc.StatusCode.INVALID_ARGUMENT, "not_an_image"),
    CapturedInFutureError: ClientError(422, grpc.StatusCode.INVALID_ARGUMENT, "clock_ahead"),
    InvalidCaptureTimeError: ClientError(422, grpc.StatusCode.INVALID_ARGUMENT, "invalid_captured_at"),
    # Nothing was announced: the client should retry later (the retry is idempotent).
    BusUnavailableError: ClientError(503, grpc.StatusCode.UNAVAILABLE, "unavailable"),
    StoreUnavailableError: ClientError(503, grpc.StatusCode.UNAVAILABLE, "unavailable"),
}


def client_error(exc: Exception) -> ClientError | None:
    return client_errors.classify(exc, _BY_TYPE)
