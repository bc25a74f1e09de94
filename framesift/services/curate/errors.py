"""How curation errors reach clients: one table for gRPC codes and HTTP statuses."""

from __future__ import annotations

import grpc

from framesift.contracts import errors as client_errors
from framesift.contracts.errors import ClientError
from framesift.contracts.query import QueryError
from framesift.inference.backends.base import TextSearchUnavailableError
from framesift.platform.operators import UnauthenticatedError

from .queries import UnavailableError
from .query.ids import AmbiguousIdError, NotFoundError

ERRORS: dict[type[Exception], ClientError] = {
    QueryError: ClientError(400, grpc.StatusCode.INVALID_ARGUMENT, "invalid_argument"),
    AmbiguousIdError: ClientError(400, grpc.StatusCode.INVALID_ARGUMENT, "ambiguous_id"),
    NotFoundError: ClientError(404, grpc.StatusCode.NOT_FOUND, "not_found"),
    TextSearchUnavailableError: ClientError(412, grpc.StatusCode.FAILED_PRECONDITION, "text_search_unavailable"),
    UnavailableError: ClientError(503, grpc.StatusCode.UNAVAILABLE, "unavailable"),
    UnauthenticatedError: ClientError(401, grpc.StatusCode.UNAUTHENTICATED, "unauthenticated"),
}


def classify(exc: Exception) -> ClientError | None:
    return client_errors.classify(exc, ERRORS)
