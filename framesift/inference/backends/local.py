"""The model repository's ONNX files run in this process (onnxruntime), for single machines.

Computes what Triton computes from the same repository: the same files, the same inputs.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from ..models.repository import DETECTOR_OUTPUTS, ModelRepository
from ..text.tokenizer import ClipTokenizer
from .base import FrameEmbedding
from .detections import CLIP_VECTOR, assemble, no_text_model, per_frame_outputs, unit_rows


class LocalOnnxBackend:
    has_detector: bool

    def __init__(self, repository: ModelRepository, *, threads: int = 0) -> None:
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads  # 0: onnxruntime's choice (all cores)
        providers = ["CPUExecutionProvider"]
        self.repository = repository
        self.name = repository.family
        self.version = repository.version
        self.input_size = repository.input_size
        self._image = onnxruntime.InferenceSession(str(repository.clip_image.onnx), options, providers=providers)
        self._detector = (
            onnxruntime.InferenceSession(str(repository.detector.onnx), options, providers=providers)
            if repository.detector
            else None
        )
        self.has_detector = self._detector is not None
        self._text = (
            onnxruntime.InferenceSession(str(repository.clip_text.onnx), options, providers=providers)
            if repository.clip_text
            else None
        )
        self._tokenizer = ClipTokenizer.open(repository.tokenizer_folder) if repository.clip_text else None
        dimension = self._image.get_outputs()[0].shape[-1]
        if not isinstance(dimension, int):
            raise ValueError(f"{repository.clip_image.onnx}: the embedding size must be fixed, got {dimension!r}")
        if repository.embedding_dim not in (None, dimension):
            raise ValueError(
                f"{repository.root}: framesift.json says embedding_dim {repository.embedding_dim}, "
                f"clip_image gives {dimension}"
            )
        self.vector_sizes = {CLIP_VECTOR: dimension}
        # One inference at a time per process: onnxruntime uses every core for one batch already.
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="onnx")

    async def ready(self) -> bool:
        return True

    async def embed_images(self, batch: np.ndarray) -> list[FrameEmbedding]:
        return await asyncio.get_running_loop().run_in_executor(self._executor, self._run, batch)

    def _run(self, batch: np.ndarray) -> list[FrameEmbedding]:
        pixels = np.ascontiguousarray(batch, dtype=np.float32)
        (embeddings,) = self._image.run(["embedding"], {"pixels": pixels})
        detector = None
        if self._detector is not None:
            if self.repository.detector_per_frame:
                detector = per_frame_outputs(
                    [self._detector.run(DETECTOR_OUTPUTS, {"pixels": pixels[i : i + 1]}) for i in range(len(pixels))]
                )
            else:
                boxes, scores, class_ids = self._detector.run(DETECTOR_OUTPUTS, {"pixels": pixels})
                detector = (boxes, scores, class_ids)
        return assemble(embeddings, detector, self.repository)

    async def embed_text(self, text: str) -> np.ndarray:
        if self._text is None or self._tokenizer is None:
            raise no_text_model(self.repository)
        tokens = self._tokenizer([text])
        run = self._text.run
        (embedding,) = await asyncio.get_running_loop().run_in_executor(
            self._executor, lambda: run(["embedding"], {"tokens": tokens})
        )
        return unit_rows(embedding)[0]

    def close(self) -> None:
        self._executor.shutdown(wait=True)
