"""Labellers and reviewers with API keys (shown once, stored hashed), and who a key belongs to."""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError

from framesift.platform.operators import UnauthenticatedError

from .tables import Labeller

LABELLERS = Labeller.__table__
KEY_PREFIX = "fsl_"
_ID = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")


class LabellerExistsError(ValueError):
    pass


class LabellerNotFoundError(LookupError):
    pass


class InvalidLabellerIdError(ValueError):
    pass


class ForbiddenError(PermissionError):
    """Authenticated, but not allowed to do this (a labeller asking for a review)."""


@dataclass(frozen=True)
class Identity:
    labeller_id: str
    reviewer: bool


def validate_labeller_id(labeller_id: str) -> str:
    if not _ID.fullmatch(labeller_id):
        raise InvalidLabellerIdError(
            f"invalid labeller id {labeller_id!r}: use 1-64 characters from a-z, 0-9, '.', '_', '-'"
        )
    return labeller_id


def hash_key(api_key: str) -> str:
    return hashlib.sha256(api_key.encode()).hexdigest()


class Labellers:
    identity_ttl_s = 30.0

    def __init__(self, engine: Engine, clock: Callable[[], float] = time.time) -> None:
        self._engine, self._clock = engine, clock
        self._known: dict[str, tuple[float, Identity]] = {}  # key hash -> (when looked up, whose)

    def add(self, labeller_id: str, *, reviewer: bool = False) -> str:
        """Create a labeller; return the API key (the only time it is visible)."""
        api_key = KEY_PREFIX + secrets.token_urlsafe(32)
        row = {
            "labeller_id": validate_labeller_id(labeller_id),
            "key_hash": hash_key(api_key),
            "reviewer": reviewer,
            "disabled": False,
            "created_at": self._clock(),
        }
        try:
            with self._engine.begin() as connection:
                connection.execute(LABELLERS.insert().values(**row))
        except IntegrityError:
            raise LabellerExistsError(f"labeller {labeller_id!r} already exists") from None
        return api_key

    def disable(self, labeller_id: str) -> None:
        """Their key stops working (within identity_ttl_s where a service remembered it)."""
        with self._engine.begin() as connection:
            changed = connection.execute(
                LABELLERS.update().where(LABELLERS.c.labeller_id == labeller_id).values(disabled=True)
            ).rowcount
        if not changed:
            raise LabellerNotFoundError(f"no labeller {labeller_id!r}")

    def all(self) -> list[dict]:
        with self._engine.connect() as connection:
            rows = connection.execute(
                sa.select(LABELLERS.c.labeller_id, LABELLERS.c.reviewer, LABELLERS.c.disabled).order_by(
                    LABELLERS.c.labeller_id
                )
            )
            return [dict(r) for r in rows.mappings()]

    def identify(self, api_key: str | None) -> Identity:
        """Whose key this is. Keys are 256 random bits: looking one up by its hash reveals nothing.
        A known key is remembered for `identity_ttl_s` (a labeller's every call would otherwise
        cost a query), so disabling an account takes effect within that time."""
        if not api_key or not api_key.startswith(KEY_PREFIX):
            raise UnauthenticatedError("this action needs a labeller's API key: authorization: Bearer fsl_...")
        digest = hash_key(api_key)
        now = time.monotonic()
        known = self._known.get(digest)
        if known is not None and now - known[0] < self.identity_ttl_s:
            return known[1]
        identity = self._look_up(digest)
        self._known[digest] = (now, identity)
        return identity

    def _look_up(self, digest: str) -> Identity:
        with self._engine.connect() as connection:
            row = connection.execute(sa.select(LABELLERS).where(LABELLERS.c.key_hash == digest)).mappings().first()
        if row is None or row["disabled"]:
            raise UnauthenticatedError("the API key is not valid")
        return Identity(row["labeller_id"], row["reviewer"])
