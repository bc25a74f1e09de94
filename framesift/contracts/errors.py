"""How a service's exceptions read to clients: one table per service, from exception type to an
HTTP status and a gRPC code, looked up the same way everywhere."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import grpc


@dataclass(frozen=True)
class ClientError:
    http_status: int
    grpc_code: grpc.StatusCode
    name: str  # the stable, machine-readable code clients see (the HTTP problem's `code`)


def shown(value: str, limit: int = 64) -> str:
    """A client's value quoted for a message, cut to `limit` characters (an id of 10 000 characters
    must not come back 10 000 characters long)."""
    if len(value) <= limit:
        return repr(value)
    return f"{value[:limit]!r}... ({len(value)} characters)"


def classify(exc: Exception, table: Mapping[type[Exception], ClientError]) -> ClientError | None:
    """The first entry whose type `exc` is an instance of; None: not a client's error (a bug)."""
    for kind, error in table.items():
        if isinstance(exc, kind):
            return error
    return None
