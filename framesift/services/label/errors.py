"""How label errors reach clients: one table for gRPC codes and HTTP statuses."""

from __future__ import annotations

import grpc

from framesift.contracts import errors as client_errors
from framesift.contracts.errors import ClientError
from framesift.platform.operators import UnauthenticatedError

from .api import DatasetFileNotFoundError, LabelledInToolError, UnavailableError
from .desk import LeaseError, NoOntologyError, TaskNotFoundError
from .exports import ExportError
from .labellers import ForbiddenError, InvalidLabellerIdError, LabellerExistsError
from .ontology import OntologyError
from .ontology_store import OntologyVersionNotFoundError
from .submission import InvalidSubmissionError

ERRORS: dict[type[Exception], ClientError] = {
    InvalidSubmissionError: ClientError(400, grpc.StatusCode.INVALID_ARGUMENT, "invalid_argument"),
    OntologyError: ClientError(400, grpc.StatusCode.INVALID_ARGUMENT, "invalid_ontology"),
    ExportError: ClientError(400, grpc.StatusCode.INVALID_ARGUMENT, "invalid_argument"),
    DatasetFileNotFoundError: ClientError(404, grpc.StatusCode.NOT_FOUND, "not_found"),
    OntologyVersionNotFoundError: ClientError(404, grpc.StatusCode.NOT_FOUND, "not_found"),
    TaskNotFoundError: ClientError(404, grpc.StatusCode.NOT_FOUND, "not_found"),
    LeaseError: ClientError(409, grpc.StatusCode.FAILED_PRECONDITION, "not_leased"),
    LabelledInToolError: ClientError(409, grpc.StatusCode.FAILED_PRECONDITION, "labelled_in_tool"),
    NoOntologyError: ClientError(412, grpc.StatusCode.FAILED_PRECONDITION, "no_ontology"),
    LabellerExistsError: ClientError(409, grpc.StatusCode.ALREADY_EXISTS, "already_exists"),
    UnauthenticatedError: ClientError(401, grpc.StatusCode.UNAUTHENTICATED, "unauthenticated"),
    ForbiddenError: ClientError(403, grpc.StatusCode.PERMISSION_DENIED, "forbidden"),
    UnavailableError: ClientError(503, grpc.StatusCode.UNAVAILABLE, "unavailable"),
    InvalidLabellerIdError: ClientError(400, grpc.StatusCode.INVALID_ARGUMENT, "invalid_argument"),
}


def classify(exc: Exception) -> ClientError | None:
    return client_errors.classify(exc, ERRORS)
