"""The object store contract. Keys come from framesift.identifiers; stores check them again."""

from __future__ import annotations

import re
from typing import Protocol

# Segments of letters, digits, '.', '_', '-' separated by '/'; no empty, '.' or '..' segment.
_KEY = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]*(/[A-Za-z0-9_-][A-Za-z0-9._-]*)*")


class StoreUnavailableError(RuntimeError):
    """The store could not be reached after retries."""


class ObjectNotFoundError(KeyError):
    pass


def checked_key(key: str) -> str:
    if len(key) > 512 or not _KEY.fullmatch(key) or ".." in key.split("/"):
        raise ValueError(f"invalid object key {key!r}")
    return key


class ObjectStore(Protocol):
    async def start(self) -> None:
        """Connect, and create the bucket/folder if missing."""

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        """Write durably; writing the same key again with the same bytes is a no-op in effect."""

    async def get(self, key: str) -> bytes: ...

    async def exists(self, key: str) -> bool: ...

    async def ready(self) -> bool: ...
