"""Frames from concurrent handlers, sent to the backend in batches: up to a size or a wait.

The embed service runs several consumers of its group in one process (FRAMESIFT_EMBED__CONCURRENCY);
each hands its frame here and awaits its own result. A batch leaves when it is full or when its
first frame has waited `max_wait_s`, so a lone frame is never held longer than that.
"""

from __future__ import annotations

import asyncio
import contextlib

import numpy as np

from framesift.inference.backends.base import EmbeddingBackend, FrameEmbedding


class MicroBatcher:
    def __init__(self, backend: EmbeddingBackend, *, max_batch: int = 8, max_wait_s: float = 0.01) -> None:
        if max_batch < 1:
            raise ValueError("max_batch must be at least 1")
        self.backend = backend
        self.max_batch = max_batch
        self.max_wait_s = max_wait_s
        self._queue: asyncio.Queue[tuple[np.ndarray, asyncio.Future[FrameEmbedding]]] | None = None
        self._worker: asyncio.Task | None = None
        # Totals, not a list per batch: the batcher lives as long as the service.
        self.batches_sent = 0
        self.frames_sent = 0

    async def embed(self, pixels: np.ndarray) -> FrameEmbedding:
        if self._worker is None or self._worker.done():
            self._queue = asyncio.Queue()
            self._worker = asyncio.create_task(self._run(), name="embed-batcher")
        future: asyncio.Future[FrameEmbedding] = asyncio.get_running_loop().create_future()
        assert self._queue is not None
        await self._queue.put((pixels, future))
        return await future

    async def _run(self) -> None:
        assert self._queue is not None
        queue = self._queue
        loop = asyncio.get_running_loop()
        while True:
            batch = [await queue.get()]
            deadline = loop.time() + self.max_wait_s
            while len(batch) < self.max_batch:
                remaining = deadline - loop.time()
                if remaining <= 0:
                    break
                try:
                    batch.append(await asyncio.wait_for(queue.get(), remaining))
                except TimeoutError:
                    break
            await self._send(batch)

    async def _send(self, batch: list[tuple[np.ndarray, asyncio.Future[FrameEmbedding]]]) -> None:
        self.batches_sent += 1
        self.frames_sent += len(batch)
        try:
            results = await self.backend.embed_images(np.stack([pixels for pixels, _ in batch]))
        except Exception as exc:  # every frame of the batch fails alike; each handler retries its own
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        for (_, future), result in zip(batch, results, strict=True):
            if not future.done():
                future.set_result(result)

    @property
    def mean_batch(self) -> float:
        return self.frames_sent / self.batches_sent if self.batches_sent else 0.0

    async def close(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker
            self._worker = None
