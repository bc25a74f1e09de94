"""The inference backend a process uses, chosen from the platform's settings."""

from __future__ import annotations

from framesift.runtime.settings import EmbedBackendKind, PlatformSettings

from .backends.base import EmbeddingBackend
from .backends.descriptor import DescriptorBackend
from .models.repository import ModelRepository


def build_backend(settings: PlatformSettings) -> EmbeddingBackend:
    if settings.embed_backend is EmbedBackendKind.DESCRIPTOR:
        return DescriptorBackend()
    if settings.model_repository is None:
        raise ValueError(f"FRAMESIFT_EMBED_BACKEND={settings.embed_backend} needs FRAMESIFT_MODEL_REPOSITORY")
    repository = ModelRepository.open(settings.model_repository)
    if settings.embed_backend is EmbedBackendKind.LOCAL:
        from .backends.local import LocalOnnxBackend

        return LocalOnnxBackend(repository)
    if settings.embed_backend is EmbedBackendKind.TRITON:
        from .backends.triton import TritonBackend

        return TritonBackend(repository, settings.triton_url, backoff_s=settings.retry_backoff_s)
    raise ValueError(f"unknown embed backend {settings.embed_backend!r}")
