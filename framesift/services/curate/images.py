"""A frame's image and its thumbnails, for browsers: read through the object store by the key the
read model holds (validated again by the store), never by a path a client gives.

Thumbnails are made once per frame and size, stored beside the frames under a derived key
(`thumbnails/<size>/<object key>.jpg`), and served with cache headers; frames are
content-addressed, so a thumbnail never goes stale.
"""

from __future__ import annotations

import asyncio
import io
from dataclasses import dataclass

from PIL import Image, UnidentifiedImageError

from framesift.contracts.media import sniff
from framesift.store.base import ObjectNotFoundError, ObjectStore, StoreUnavailableError

THUMBNAIL_SIZES = (128, 256, 512)  # long side in pixels; a few sizes so caches stay small
THUMBNAIL_PREFIX = "thumbnails"


class ImageUnavailableError(RuntimeError):
    """The store cannot be reached now."""


class ImageMissingError(LookupError):
    """The frame is known, but its bytes are not in the store (or do not decode)."""


@dataclass(frozen=True)
class FrameImage:
    data: bytes
    media_type: str


def thumbnail_key(object_key: str, size: int) -> str:
    return f"{THUMBNAIL_PREFIX}/{size}/{object_key}.jpg"


class FrameImages:
    def __init__(self, store: ObjectStore) -> None:
        self._store = store

    async def original(self, object_key: str) -> FrameImage:
        data = await self._get(object_key)
        media = sniff(data)
        return FrameImage(data, media.mime if media else "application/octet-stream")

    async def thumbnail(self, object_key: str, size: int) -> FrameImage:
        if size not in THUMBNAIL_SIZES:
            raise ValueError(f"size must be one of {', '.join(map(str, THUMBNAIL_SIZES))}, not {size}")
        key = thumbnail_key(object_key, size)
        try:
            try:  # one round trip when it is there (every request after the first)
                return FrameImage(await self._store.get(key), "image/jpeg")
            except ObjectNotFoundError:
                pass
            made = await asyncio.to_thread(_thumbnail, await self._get(object_key), size)
            await self._store.put(key, made, "image/jpeg")
        except StoreUnavailableError as exc:
            raise ImageUnavailableError(str(exc)) from exc
        return FrameImage(made, "image/jpeg")

    async def _get(self, object_key: str) -> bytes:
        try:
            return await self._store.get(object_key)
        except ObjectNotFoundError as exc:
            raise ImageMissingError("the frame's bytes are not in the object store") from exc
        except StoreUnavailableError as exc:
            raise ImageUnavailableError(str(exc)) from exc


def _thumbnail(data: bytes, size: int) -> bytes:
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.draft("RGB", (size, size))  # JPEG: decode at a reduced size
            image.thumbnail((size, size))
            out = io.BytesIO()
            image.convert("RGB").save(out, "JPEG", quality=80, optimize=True)
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise ImageMissingError("the frame's bytes do not decode as an image") from exc
    return out.getvalue()
