"""Objects as files under a folder: the embedded default."""

from __future__ import annotations

import asyncio
import os
import tempfile
from pathlib import Path

from framesift.store.base import ObjectNotFoundError, checked_key


class LocalObjectStore:
    def __init__(self, root: Path) -> None:
        self._root = root.resolve()

    def _path(self, key: str) -> Path:
        path = (self._root / checked_key(key)).resolve()
        # checked_key already forbids traversal; this guards the invariant for the filesystem too.
        if not path.is_relative_to(self._root):
            raise ValueError(f"object key {key!r} leaves the store")
        return path

    async def start(self) -> None:
        self._root.mkdir(parents=True, exist_ok=True)

    async def ready(self) -> bool:
        return self._root.is_dir() and os.access(self._root, os.W_OK)

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        await asyncio.to_thread(self._write, self._path(key), data)

    @staticmethod
    def _write(path: Path, data: bytes) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        # Write then rename: a reader never sees half a frame, a crash leaves no partial object.
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    async def get(self, key: str) -> bytes:
        path = self._path(key)
        try:
            return await asyncio.to_thread(path.read_bytes)
        except FileNotFoundError:
            raise ObjectNotFoundError(key) from None

    async def exists(self, key: str) -> bool:
        return self._path(key).is_file()
