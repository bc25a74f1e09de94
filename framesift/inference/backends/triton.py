"""The production path: the model repository served by Triton, called over gRPC (asyncio).

Triton batches concurrent requests itself (dynamic batching in config.pbtxt); the embed service
sends it batches from its own micro-batcher. UNAVAILABLE (server down or restarting, model
loading) is retried with backoff, then InferenceUnavailableError, which the delivery layer
retries without limit and never dead-letters: frames wait, uncommitted, until Triton is back.
"""

from __future__ import annotations

import asyncio
import logging

import numpy as np
import tritonclient.grpc.aio as triton_grpc
from tritonclient.utils import InferenceServerException

from framesift.runtime.retry import of_type, with_retries

from ..models.repository import CLIP_IMAGE, CLIP_TEXT, DETECTOR, DETECTOR_OUTPUTS, ModelRepository
from ..text.tokenizer import ClipTokenizer
from .base import FrameEmbedding, InferenceUnavailableError
from .detections import CLIP_VECTOR, assemble, no_text_model, per_frame_outputs, unit_rows

log = logging.getLogger(__name__)

# Status codes that mean "not now" rather than "never" (tritonclient reports them as text).
_TRANSIENT = ("UNAVAILABLE", "DEADLINE_EXCEEDED", "RESOURCE_EXHAUSTED", "CANCELLED")


class _NotNow(Exception):
    """Triton is unreachable, or the model is not loaded (yet): worth another try after a pause."""


class TritonBackend:
    def __init__(
        self,
        repository: ModelRepository,
        url: str,
        *,
        attempts: int = 4,
        backoff_s: float = 0.2,
        timeout_s: float = 30.0,
    ) -> None:
        if repository.embedding_dim is None:
            raise ValueError(f"{repository.root}: framesift.json needs embedding_dim for the triton backend")
        self.repository = repository
        self.name = repository.family
        self.version = repository.version
        self.input_size = repository.input_size
        self._tokenizer = ClipTokenizer.open(repository.tokenizer_folder) if repository.clip_text else None
        self.vector_sizes = {CLIP_VECTOR: repository.embedding_dim}
        self.has_detector = repository.detector is not None
        self._url = url
        self._attempts = attempts
        self._backoff_s = backoff_s
        self._timeout_s = timeout_s
        self._client: triton_grpc.InferenceServerClient | None = None
        self._suspect = False  # the last call failed: check readiness before the next

    def _connection(self) -> triton_grpc.InferenceServerClient:
        if self._client is None:
            self._client = triton_grpc.InferenceServerClient(self._url)
        return self._client

    async def ready(self) -> bool:
        """Ready when the server is live and every model the repository needs is loaded."""
        models = [
            CLIP_IMAGE,
            *([DETECTOR] if self.has_detector else []),
            *([CLIP_TEXT] if self._tokenizer is not None else []),
        ]
        try:
            client = self._connection()
            if not await client.is_server_live(client_timeout=2.0):
                return False
            return all([await client.is_model_ready(name, client_timeout=2.0) for name in models])
        except (InferenceServerException, OSError):
            return False

    async def embed_images(self, batch: np.ndarray) -> list[FrameEmbedding]:
        pixels = np.ascontiguousarray(batch, dtype=np.float32)
        (embeddings,) = await self._infer(CLIP_IMAGE, "pixels", pixels, ["embedding"])
        detector = None
        if self.has_detector:
            if self.repository.detector_per_frame:
                # Sent together: Triton runs them side by side on the detector's instances.
                runs = await asyncio.gather(
                    *(self._infer(DETECTOR, "pixels", pixels[i : i + 1], DETECTOR_OUTPUTS) for i in range(len(pixels)))
                )
                detector = per_frame_outputs(list(runs))
            else:
                boxes, scores, class_ids = await self._infer(DETECTOR, "pixels", pixels, DETECTOR_OUTPUTS)
                detector = (boxes, scores, class_ids)
        return assemble(embeddings, detector, self.repository)

    async def _infer(self, model: str, input_name: str, data: np.ndarray, outputs: list[str]) -> list[np.ndarray]:
        datatype = "INT64" if data.dtype == np.int64 else "FP32"
        request = triton_grpc.InferInput(input_name, list(data.shape), datatype)
        request.set_data_from_numpy(data)
        wanted = [triton_grpc.InferRequestedOutput(name) for name in outputs]
        return await with_retries(
            lambda: self._infer_once(model, request, wanted, outputs),
            what=f"Triton model {model}",
            retry_on=of_type(_NotNow),
            attempts=self._attempts,
            backoff_s=self._backoff_s,
            gave_up=lambda exc: InferenceUnavailableError(f"Triton at {self._url} unavailable for {model}: {exc}"),
        )

    async def _infer_once(self, model: str, request, wanted: list, outputs: list[str]) -> list[np.ndarray]:
        # After a failure, wait for the model to be ready again rather than send it work.
        if self._suspect and not await self._model_ready(model):
            raise _NotNow(f"model {model} is not ready")
        try:
            result = await self._connection().infer(model, [request], outputs=wanted, client_timeout=self._timeout_s)
        except InferenceServerException as exc:
            self._suspect = True
            # A model still loading (after a restart) answers NOT_FOUND: not now, not never.
            if not any(code in str(exc.status()) for code in _TRANSIENT) and await self._model_ready(model):
                raise
            raise _NotNow(str(exc)) from exc
        self._suspect = False
        return [result.as_numpy(name) for name in outputs]

    async def _model_ready(self, model: str) -> bool:
        try:
            return bool(await self._connection().is_model_ready(model, client_timeout=2.0))
        except (InferenceServerException, OSError):
            return False

    async def embed_text(self, text: str) -> np.ndarray:
        if self._tokenizer is None:
            raise no_text_model(self.repository)
        (embedding,) = await self._infer(CLIP_TEXT, "tokens", self._tokenizer([text]), ["embedding"])
        return unit_rows(embedding)[0]

    async def close(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None
