"""Operator identity for write actions on a service (closing windows now, ...): a bearer token
compared in constant time. The token comes from the settings; the app provides one on the
embedded default (framesift.app.process.operator_token)."""

from __future__ import annotations

import hashlib
import hmac


class UnauthenticatedError(PermissionError):
    pass


class OperatorToken:
    def __init__(self, token: str | None) -> None:
        self._digest = hashlib.sha256(token.encode()).digest() if token else None

    def check(self, authorization: str | None) -> None:
        """`authorization` is "Bearer <token>" (an HTTP header or gRPC metadata)."""
        if self._digest is None:
            raise UnauthenticatedError("no operator token is configured here (set FRAMESIFT_OPERATOR_TOKEN)")
        scheme, _, given = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not given:
            raise UnauthenticatedError("this action needs the operator token: authorization: Bearer <token>")
        if not hmac.compare_digest(hashlib.sha256(given.strip().encode()).digest(), self._digest):
            raise UnauthenticatedError("the operator token is not valid")
