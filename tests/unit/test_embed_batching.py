"""The micro-batcher: full batches leave at once, a lone frame leaves after the wait, failures reach everyone."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from framesift.inference.backends.descriptor import DescriptorBackend
from framesift.services.embed.batching import MicroBatcher


class Recording(DescriptorBackend):
    """The real descriptor backend, noting each batch it is given."""

    def __init__(self, fail: bool = False) -> None:
        self.batches: list[int] = []
        self.fail = fail

    async def embed_images(self, batch: np.ndarray):
        self.batches.append(len(batch))
        if self.fail:
            raise RuntimeError("inference failed")
        return await super().embed_images(batch)


def frames(count: int) -> list[np.ndarray]:
    rng = np.random.default_rng(count)
    return [rng.normal(size=(3, 224, 224)).astype(np.float32) for _ in range(count)]


async def test_concurrent_frames_are_sent_together_up_to_the_batch_size() -> None:
    backend = Recording()
    batcher = MicroBatcher(backend, max_batch=4, max_wait_s=0.5)
    inputs = frames(8)
    results = await asyncio.gather(*(batcher.embed(pixels) for pixels in inputs))
    await batcher.close()
    assert backend.batches == [4, 4]
    alone = await DescriptorBackend().embed_images(np.stack(inputs))
    for mine, reference in zip(results, alone, strict=True):  # each caller gets its own frame's result
        np.testing.assert_array_equal(mine.vectors["descriptor"], reference.vectors["descriptor"])


async def test_a_lone_frame_is_not_held_for_a_full_batch() -> None:
    backend = Recording()
    batcher = MicroBatcher(backend, max_batch=8, max_wait_s=0.01)
    await asyncio.wait_for(batcher.embed(frames(1)[0]), timeout=5)
    await batcher.close()
    assert backend.batches == [1]


async def test_a_failed_batch_fails_each_of_its_frames() -> None:
    batcher = MicroBatcher(Recording(fail=True), max_batch=4, max_wait_s=0.2)
    outcomes = await asyncio.gather(*(batcher.embed(p) for p in frames(3)), return_exceptions=True)
    await batcher.close()
    assert all(isinstance(outcome, RuntimeError) for outcome in outcomes)


def test_batch_size_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_batch"):
        MicroBatcher(DescriptorBackend(), max_batch=0)
