"""Embed throughput: frames/s for one frame per call vs the service's batching, per backend.

Backends in one run, on the same preprocessed frames: `descriptor` (weights-free), `local`
(onnxruntime in-process) and `triton` (a real tritonserver from nvidia-pytriton, on the CPU)
serving the same model repository. With no model weights reachable here, the repository is the
tiny test one (tests/support/models.py: real layout and ONNX files, a few operations): the
numbers measure framesift's side (batching, transport, post-processing), not a CLIP model's
compute. Point --repository at a real repository (framesift models export) for those.
Memory: the process's peak resident set after each backend.

Run: .venv/bin/python -m bench.embed [--frames 256] [--concurrency 8] [--repository DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import tempfile
import time
from pathlib import Path

import numpy as np

from framesift.inference.backends.descriptor import DescriptorBackend
from framesift.inference.backends.local import LocalOnnxBackend
from framesift.inference.backends.triton import TritonBackend
from framesift.inference.models.repository import ModelRepository
from framesift.inference.preprocess import prepare
from framesift.services.embed.batching import MicroBatcher
from tests.support.models import write_repository
from tests.support.scenes import encode, scene
from tests.support.triton import TritonForRepository


async def one_by_one(backend, frames: list[np.ndarray]) -> float:
    started = time.perf_counter()
    for pixels in frames:
        await backend.embed_images(pixels[None])
    return len(frames) / (time.perf_counter() - started)


async def batched(backend, frames: list[np.ndarray], concurrency: int, max_batch: int) -> tuple[float, float]:
    """As the service runs: `concurrency` handlers, each awaiting its own frame, one batcher."""
    batcher = MicroBatcher(backend, max_batch=max_batch, max_wait_s=0.005)
    queue = list(frames)

    async def handler() -> None:
        while queue:
            await batcher.embed(queue.pop())

    started = time.perf_counter()
    await asyncio.gather(*(handler() for _ in range(concurrency)))
    rate = len(frames) / (time.perf_counter() - started)
    await batcher.close()
    return rate, batcher.mean_batch


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=256)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--max-batch", type=int, default=8)
    parser.add_argument("--repository", type=Path, default=None)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="framesift-bench-embed-"))
    root = args.repository or write_repository(work / "repository")
    repository = ModelRepository.open(root)
    frames = [prepare(encode(scene(seed=i % 16))).pixels for i in range(args.frames)]
    print(f"{args.frames} preprocessed frames (3x224x224), repository {repository.family}/{repository.version}")
    header = ("backend", "batch 1 f/s", "batched f/s", "mean batch", "speed-up", "peak RSS MiB")
    print(f"{header[0]:<12} {header[1]:>12} {header[2]:>12} {header[3]:>11} {header[4]:>9} {header[5]:>13}")

    server = TritonForRepository(root, work).start()
    backends = [
        ("descriptor", DescriptorBackend()),
        ("local", LocalOnnxBackend(repository)),
        ("triton", TritonBackend(repository, server.url)),
    ]
    try:
        for name, backend in backends:
            single = await one_by_one(backend, frames)
            rate, mean_batch = await batched(backend, frames, args.concurrency, args.max_batch)
            print(
                f"{name:<12} {single:>12.1f} {rate:>12.1f} {mean_batch:>11.1f} {rate / single:>8.2f}x"
                f" {peak_rss_mib():>13.0f}"
            )
    finally:
        await backends[2][1].close()
        backends[1][1].close()
        server.stop()


if __name__ == "__main__":
    asyncio.run(main())
