"""How curation errors reach clients: one table for gRPC codes and HTTP statuses."""

from __future__ import annotations

from dataclasses import dataclass

import grpc

from ..embed.backends.base import TextSearchUnavailableError
from .api import NotFoundError, UnavailableError
from .query.language import QueryError


@dataclass(frozen=True)
class ClientError:
    http_status: int
    grpc_code: grpc.StatusCode


ERRORS: dict[type[Exception], ClientError] = {
    QueryError: ClientError(400, grpc.StatusCode.INVALID_ARGUMENT),
    NotFoundError: ClientError(404, grpc.StatusCode.NOT_FOUND),
    TextSearchUnavailableError: ClientError(412, grpc.StatusCode.FAILED_PRECONDITION),
    UnavailableError: ClientError(503, grpc.StatusCode.UNAVAILABLE),
}


def classify(exc: Exception) -> ClientError | None:
    for kind, error in ERRORS.items():
        if isinstance(exc, kind):
            return error
    return None
