"""The local backend's runtime: onnxruntime (what it runs) vs torch eager, on a real CLIP architecture.

The issue allowed torch "where that is faster": this measures it. An OpenCLIP architecture
(default ViT-B-32) is built with random weights — no weights can be downloaded here, and
weights do not change the compute, so the timings hold for the trained model; the embeddings
themselves mean nothing and are never used. It is exported with `framesift models export`'s own
code (clip_image ONNX), then the same preprocessed frames go through
  - onnxruntime via the local backend (one process-wide session, all cores), and
  - torch eager `encode_image` (torch's default threads),
at batch 1 and batch 8, in the same run. Needs the export extra (torch, OpenCLIP).

Run: .venv/bin/python -m bench.embed_runtime [--architecture ViT-B-32] [--frames 64]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

import numpy as np
import open_clip
import torch

from framesift.inference.backends.local import LocalOnnxBackend
from framesift.inference.models.configs import Batching, Device
from framesift.inference.models.export.clip import ImageEncoder, load_clip, write_clip
from framesift.inference.models.repository import ModelRepository
from framesift.inference.preprocess import prepare
from tests.support.scenes import encode, scene


def timed(run, frames: np.ndarray, batch: int) -> float:
    run(frames[:batch])  # warm-up
    started = time.perf_counter()
    for start in range(0, len(frames), batch):
        run(frames[start : start + batch])
    return len(frames) / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--architecture", default="ViT-B-32")
    parser.add_argument("--frames", type=int, default=64)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="framesift-bench-runtime-"))
    torch.manual_seed(0)
    checkpoint = work / "random-weights.pt"  # timing only: never an embedding anyone uses
    torch.save(open_clip.create_model(args.architecture).state_dict(), checkpoint)
    clip = load_clip(args.architecture, str(checkpoint))
    write_clip(clip, work / "repository", device=Device.CPU, batching=Batching())
    (work / "repository" / "framesift.json").write_text(
        f'{{"family": "{args.architecture}", "version": "random", "input_size": {clip.input_size}, '
        f'"embedding_dim": {clip.embedding_dim}}}'
    )
    backend = LocalOnnxBackend(ModelRepository.open(work / "repository"))
    frames = np.stack([prepare(encode(scene(seed=i % 16)), clip.input_size).pixels for i in range(args.frames)])
    encoder = ImageEncoder(clip).eval()

    def onnx(batch: np.ndarray) -> None:
        asyncio.run(backend.embed_images(batch))

    def eager(batch: np.ndarray) -> None:
        with torch.inference_mode():
            encoder(torch.from_numpy(batch))

    print(
        f"{args.architecture} (random weights: timing only), {args.frames} frames, "
        f"torch threads {torch.get_num_threads()}"
    )
    print("| runtime | batch 1 f/s | batch 8 f/s |")
    print("|---|---|---|")
    rows = {"torch eager (baseline)": eager, "onnxruntime (local backend)": onnx}
    for name, run in rows.items():
        print(f"| {name} | {timed(run, frames, 1):.1f} | {timed(run, frames, 8):.1f} |")
    backend.close()


if __name__ == "__main__":
    main()
