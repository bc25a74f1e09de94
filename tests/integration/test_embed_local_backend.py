"""The `local` backend: a model repository's ONNX files run in-process, through the embed service.

The repository is built in the test (tests/support/models.py): real layout, real ONNX graphs,
no trained weights.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from framesift.inference.backends.base import TextSearchUnavailableError
from framesift.inference.backends.local import LocalOnnxBackend
from framesift.inference.models.repository import ModelRepository, ModelRepositoryError
from framesift.inference.preprocess import prepare
from framesift.runtime.settings import EmbedBackendKind
from framesift.services.embed.bootstrap import embed_deps
from framesift.services.embed.handlers import embed_frame
from framesift.services.ingest.bootstrap import ingest_deps
from framesift.services.ingest.handlers import UploadFrame, ingest_frame
from framesift.v1 import frames_pb2
from tests.support.models import CLASSES, EMBEDDING, write_repository
from tests.support.scenes import encode, scaled_luma, scene


@pytest.fixture
def repository(tmp_path):
    return write_repository(tmp_path / "models")


async def test_embeddings_are_unit_length_deterministic_and_batch_independent(repository) -> None:
    backend = LocalOnnxBackend(ModelRepository.open(repository))
    frames = np.stack([prepare(encode(scene(seed=s))).pixels for s in range(3)])
    batched = await backend.embed_images(frames)
    single = [(await backend.embed_images(frame[None]))[0] for frame in frames]
    backend.close()
    assert backend.vector_sizes == {"clip": EMBEDDING}
    for one, alone in zip(batched, single, strict=True):
        assert np.linalg.norm(one.vectors["clip"]) == pytest.approx(1.0, abs=1e-5)
        np.testing.assert_allclose(one.vectors["clip"], alone.vectors["clip"], atol=1e-6)


async def test_detections_above_the_threshold_carry_class_names_and_relative_boxes(repository) -> None:
    backend = LocalOnnxBackend(ModelRepository.open(repository))
    bright = prepare(encode(scaled_luma(scene(seed=1), 1.0, 120))).pixels
    dark = prepare(encode(scaled_luma(scene(seed=1), 0.05))).pixels
    [lit, unlit] = await backend.embed_images(np.stack([bright, dark]))
    backend.close()
    assert {d.class_name for d in lit.detections} == set(CLASSES)
    assert all(d.score >= 0.5 for d in lit.detections)
    assert lit.detections[0].box == pytest.approx((0.1, 0.2, 0.5, 0.6))
    assert [d.score for d in lit.detections] == sorted((d.score for d in lit.detections), reverse=True)
    assert len(unlit.detections) < len(lit.detections)


async def test_text_search_without_a_clip_text_model_is_refused_naming_what_writes_one(repository) -> None:
    backend = LocalOnnxBackend(ModelRepository.open(repository))  # the tiny repository has no clip_text
    with pytest.raises(TextSearchUnavailableError, match=r"clip_text.*framesift models export"):
        await backend.embed_text("a bicycle")
    backend.close()


def test_broken_repositories_are_refused_with_what_is_missing(tmp_path, repository) -> None:
    with pytest.raises(ModelRepositoryError, match=r"framesift\.json"):
        ModelRepository.open(tmp_path / "nowhere")
    (repository / "detector" / "classes.txt").unlink()
    with pytest.raises(ModelRepositoryError, match="class names"):
        ModelRepository.open(repository)
    (repository / "framesift.json").write_text(json.dumps({"family": "x"}))
    with pytest.raises(ModelRepositoryError, match="version"):
        ModelRepository.open(repository)


def test_without_a_detector_there_are_no_classes(tmp_path) -> None:
    opened = ModelRepository.open(write_repository(tmp_path / "m", detector=False))
    assert opened.detector is None
    assert opened.classes == ()


async def test_the_service_stores_clip_vectors_and_publishes_detections(embedded_settings, repository) -> None:
    from framesift.app.registry import build_adapters

    settings = embedded_settings.model_copy(
        update={"embed_backend": EmbedBackendKind.LOCAL, "model_repository": repository}
    )
    adapters = build_adapters(settings)
    await adapters.start()
    await adapters.bus.start()
    accepted = await ingest_frame(
        UploadFrame("cam-1", encode(scaled_luma(scene(), 1.0, 120))), ingest_deps(adapters, adapters.settings.ingest)
    )
    deps = embed_deps(adapters, adapters.settings.embed)
    event = frames_pb2.FrameChecked(
        frame_id=accepted.frame_id,
        camera_id="cam-1",
        frame=frames_pb2.FrameRef(frame_id=accepted.frame_id, camera_id="cam-1", object_key=accepted.object_key),
    )
    embedded = await embed_frame(event, deps)
    client = await deps.vectors.start()
    [point] = await client.retrieve(deps.vectors.collection, ids=[embedded.point_id], with_vectors=True)
    await deps.close()
    await adapters.bus.stop()
    adapters.close()
    assert (embedded.model_name, embedded.model_version) == ("tiny-test", "test-1")
    assert embedded.has_detector is True
    assert {d.class_name for d in embedded.detections} == set(CLASSES)
    assert len(point.vector["clip"]) == EMBEDDING
    assert point.payload["classes"] == sorted(CLASSES)
    assert point.payload["backend"] == "tiny-test/test-1"


def test_local_backend_without_a_repository_names_the_setting(embedded_settings) -> None:
    from framesift.services.embed.bootstrap import build_backend

    with pytest.raises(ValueError, match="FRAMESIFT_MODEL_REPOSITORY"):
        build_backend(embedded_settings.model_copy(update={"embed_backend": EmbedBackendKind.LOCAL}))
