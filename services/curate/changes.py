"""In-process notifications of changed frames, for WatchFrames' server streams."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable


class FrameChanges:
    def __init__(self, queue_size: int = 10_000) -> None:
        self._watchers: set[asyncio.Queue[str]] = set()
        self._queue_size = queue_size

    def publish(self, frame_ids: Iterable[str]) -> None:
        for queue in list(self._watchers):
            for frame_id in frame_ids:
                if queue.full():  # a watcher that does not read loses the oldest change, not the process
                    queue.get_nowait()
                queue.put_nowait(frame_id)

    async def watch(self) -> AsyncIterator[str]:
        queue: asyncio.Queue[str] = asyncio.Queue(self._queue_size)
        self._watchers.add(queue)
        try:
            while True:
                yield await queue.get()
        finally:
            self._watchers.discard(queue)

    @property
    def watchers(self) -> int:
        return len(self._watchers)
