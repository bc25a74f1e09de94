"""How curation errors reach clients: one table for gRPC codes and HTTP statuses."""

from __future__ import annotations

import grpc

from framesift import client_errors
from framesift.client_errors import ClientError

from ..embed.backends.base import TextSearchUnavailableError
from .api import NotFoundError, UnavailableError
from .query.language import QueryError

ERRORS: dict[type[Exception], ClientError] = {
    QueryError: ClientError(400, grpc.StatusCode.INVALID_ARGUMENT),
    NotFoundError: ClientError(404, grpc.StatusCode.NOT_FOUND),
    TextSearchUnavailableError: ClientError(412, grpc.StatusCode.FAILED_PRECONDITION),
    UnavailableError: ClientError(503, grpc.StatusCode.UNAVAILABLE),
}


def classify(exc: Exception) -> ClientError | None:
    return client_errors.classify(exc, ERRORS)
