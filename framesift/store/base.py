"""The object store contract. Keys come from framesift.contracts.identifiers; stores check them again."""

from __future__ import annotations

from typing import Protocol

from framesift.contracts.identifiers import checked_key

__all__ = ["ObjectNotFoundError", "ObjectStore", "StoreUnavailableError", "checked_key"]


class StoreUnavailableError(RuntimeError):
    """The store could not be reached after retries."""


class ObjectNotFoundError(KeyError):
    pass


class ObjectStore(Protocol):
    async def start(self) -> None:
        """Connect, and create the bucket/folder if missing."""

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        """Write durably; writing the same key again with the same bytes is a no-op in effect."""

    async def get(self, key: str) -> bytes: ...

    async def exists(self, key: str) -> bool: ...

    async def ready(self) -> bool: ...
