"""How evaluate's errors reach clients: one table for gRPC codes and HTTP statuses."""

from __future__ import annotations

import grpc

from framesift.contracts import errors as client_errors
from framesift.contracts.errors import ClientError
from framesift.platform.operators import UnauthenticatedError

from .api import InvalidRequestError, UnavailableError
from .coco_input import CocoInputError
from .runs import EmptySplitError, FrameNotInRunError, ReportNotFoundError, UnknownModelError

ERRORS: dict[type[Exception], ClientError] = {
    InvalidRequestError: ClientError(400, grpc.StatusCode.INVALID_ARGUMENT, "invalid_argument"),
    CocoInputError: ClientError(400, grpc.StatusCode.INVALID_ARGUMENT, "invalid_argument"),
    UnknownModelError: ClientError(404, grpc.StatusCode.NOT_FOUND, "unknown_model"),
    ReportNotFoundError: ClientError(404, grpc.StatusCode.NOT_FOUND, "not_found"),
    FrameNotInRunError: ClientError(404, grpc.StatusCode.NOT_FOUND, "not_found"),
    EmptySplitError: ClientError(412, grpc.StatusCode.FAILED_PRECONDITION, "empty_split"),
    UnauthenticatedError: ClientError(401, grpc.StatusCode.UNAUTHENTICATED, "unauthenticated"),
    UnavailableError: ClientError(503, grpc.StatusCode.UNAVAILABLE, "unavailable"),
}


def classify(exc: Exception) -> ClientError | None:
    return client_errors.classify(exc, ERRORS)
