"""Runs the written repository the way the service will (onnxruntime, the service's preprocessing
and tokenizer) and compares with the torch models it came from."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnxruntime
import torch
from PIL import Image, ImageDraw

from ...backends.detections import CLIP_VECTOR
from ...backends.local import LocalOnnxBackend
from ...preprocess import to_tensor
from ...text.tokenizer import ClipTokenizer
from ..repository import ModelRepository
from .clip import ExportError, ImageEncoder, LoadedClip, TextEncoder
from .detector import DetectorForFrames, LoadedDetector

TOLERANCE = 1e-4  # max abs difference per component of unit vectors (float32 graph rewrites)
PROMPTS = ("a photo of a cyclist at night", "a red car parked on a street", "an empty road")


@dataclass(frozen=True)
class Validation:
    image_max_difference: float
    text_max_difference: float
    tokens_identical: bool
    detector_max_difference: float | None


def _samples(size: int) -> np.ndarray:
    """Two synthetic frames (shapes and gradients): enough to compare two runtimes, not to judge a model."""
    frames = []
    for seed in range(2):
        rng = np.random.default_rng(seed)
        base = np.linspace(0, 255, size * 2, dtype=np.float32)[None, :, None].repeat(size, 0).repeat(3, 2)
        image = Image.fromarray(base.astype(np.uint8))
        draw = ImageDraw.Draw(image)
        for _ in range(6):
            x, y = rng.integers(0, size * 2 - 40), rng.integers(0, size - 40)
            draw.rectangle((x, y, x + 40, y + 30), fill=tuple(int(v) for v in rng.integers(0, 255, 3)))
        frames.append(to_tensor(image, size))
    return np.stack(frames)


def validate(root: Path, clip: LoadedClip, detector: LoadedDetector | None) -> Validation:
    repository = ModelRepository.open(root)
    backend = LocalOnnxBackend(repository)
    try:
        pixels = _samples(repository.input_size)
        embedded = asyncio.run(backend.embed_images(pixels))
        ours = np.stack([e.vectors[CLIP_VECTOR] for e in embedded])
        with torch.no_grad():
            reference = ImageEncoder(clip)(torch.from_numpy(pixels)).numpy()
        image_diff = float(np.abs(ours - reference).max())

        tokenizer = ClipTokenizer.open(repository.tokenizer_folder)
        tokens_identical = bool(np.array_equal(tokenizer(list(PROMPTS)), clip.tokenizer(list(PROMPTS)).numpy()))
        text = np.stack([asyncio.run(backend.embed_text(prompt)) for prompt in PROMPTS])
        with torch.no_grad():
            text_reference = TextEncoder(clip)(clip.tokenizer(list(PROMPTS))).numpy()
        text_diff = float(np.abs(text - text_reference).max())

        detector_diff = None
        if detector is not None and repository.detector is not None:
            session = onnxruntime.InferenceSession(str(repository.detector.onnx), providers=["CPUExecutionProvider"])
            wrapper = DetectorForFrames(detector.model, repository.input_size)
            differences = []
            for frame in pixels:
                (scores,) = session.run(["scores"], {"pixels": frame[None]})
                with torch.no_grad():
                    expected = wrapper(torch.from_numpy(frame[None]))[1].numpy()
                # Sorted: near-equal scores may swap places between the two runtimes.
                differences.append(np.abs(np.sort(scores, axis=None) - np.sort(expected, axis=None)).max())
            detector_diff = float(max(differences))
    finally:
        backend.close()
    result = Validation(image_diff, text_diff, tokens_identical, detector_diff)
    problems = [
        *([f"image embeddings differ by {image_diff:.2e}"] if image_diff > TOLERANCE else []),
        *([f"text embeddings differ by {text_diff:.2e}"] if text_diff > TOLERANCE else []),
        *(["framesift's tokenizer disagrees with OpenCLIP's"] if not tokens_identical else []),
        *([f"detector scores differ by {detector_diff:.2e}"] if (detector_diff or 0.0) > TOLERANCE else []),
    ]
    if problems:
        raise ExportError(f"the exported repository does not compute what the torch models do: {'; '.join(problems)}")
    return result
