"""The `triton` backend against a real tritonserver (nvidia-pytriton's, on the CPU).

The tiny repository (tests/support/models.py) is served by Triton; see tests/support/triton.py
for why its models are bound as Python models running the repository's ONNX files.
"""

from __future__ import annotations

import numpy as np
import pytest

from framesift.app.registry import build_adapters
from framesift.bus.events import EventPublisher
from framesift.contracts.codec import decode
from framesift.contracts.topics import FRAMES_CHECKED, FRAMES_EMBEDDED
from framesift.inference.backends.local import LocalOnnxBackend
from framesift.inference.backends.triton import TritonBackend
from framesift.inference.models.repository import ModelRepository
from framesift.inference.preprocess import prepare
from framesift.runtime import metrics
from framesift.runtime.settings import EmbedBackendKind
from framesift.services.embed.bootstrap import embed_deps
from framesift.services.ingest.bootstrap import ingest_deps
from framesift.services.ingest.handlers import UploadFrame, ingest_frame
from framesift.v1 import frames_pb2
from tests.support.running import running
from tests.support.scenes import encode, scaled_luma, scene
from tests.support.servers import free_port
from tests.support.triton import TritonForRepository
from tests.support.waiting import eventually

# Both backends run the same ONNX graph on the same float32 input; only batch composition differs.
TOLERANCE = 1e-5


async def test_triton_and_local_give_the_same_embeddings_and_detections(model_repository, triton_url) -> None:
    repository = ModelRepository.open(model_repository)
    batch = np.stack([prepare(encode(scaled_luma(scene(seed=s), 1.0, 40 * s))).pixels for s in range(4)])
    triton = TritonBackend(repository, triton_url)
    local = LocalOnnxBackend(repository)
    assert await triton.ready()
    remote, here = await triton.embed_images(batch), await local.embed_images(batch)
    await triton.close()
    local.close()
    for a, b in zip(remote, here, strict=True):
        np.testing.assert_allclose(a.vectors["clip"], b.vectors["clip"], atol=TOLERANCE)
        assert [d.class_name for d in a.detections] == [d.class_name for d in b.detections]
    assert triton.vector_sizes == local.vector_sizes


def triton_settings(embedded_settings, model_repository, url: str):
    return embedded_settings.model_copy(
        update={
            "embed_backend": EmbedBackendKind.TRITON,
            "model_repository": model_repository,
            "triton_url": url,
            "embed_concurrency": 3,
            "embed_max_wait_s": 0.05,
        }
    )


def embedded_ids(bus) -> set[str]:
    return {decode(FRAMES_EMBEDDED, r.value, r.headers).frame_id for r in bus.records(FRAMES_EMBEDDED.name)}


async def test_the_pipeline_embeds_through_triton(embedded_settings, model_repository, triton_url) -> None:
    adapters = build_adapters(triton_settings(embedded_settings, model_repository, triton_url))
    await adapters.start()
    async with running(adapters, ["ingest", "quality", "embed"]) as runner:
        assert await runner.is_ready()
        ids = [
            (
                await ingest_frame(
                    UploadFrame(f"cam-{i}", encode(scene(seed=20 + i))), ingest_deps(adapters, adapters.settings.ingest)
                )
            ).frame_id
            for i in range(5)
        ]
        await eventually(lambda: embedded_ids(adapters.bus) >= set(ids), timeout=60, what="five embedded frames")
    events = [decode(FRAMES_EMBEDDED, r.value, r.headers) for r in adapters.bus.records(FRAMES_EMBEDDED.name)]
    assert {(e.model_name, e.model_version) for e in events} == {("tiny-test", "test-1")}
    adapters.close()


def retryable_errors() -> float:
    return sum(
        sample.value
        for family in metrics.HANDLER_ERRORS.collect()
        for sample in family.samples
        if sample.labels.get("service") == "embed" and sample.labels.get("kind") == "retryable"
    )


async def checked(adapters, seed: int) -> frames_pb2.FrameChecked:
    accepted = await ingest_frame(
        UploadFrame("cam-1", encode(scene(seed=seed))), ingest_deps(adapters, adapters.settings.ingest)
    )
    return frames_pb2.FrameChecked(
        frame_id=accepted.frame_id,
        camera_id="cam-1",
        frame=frames_pb2.FrameRef(frame_id=accepted.frame_id, camera_id="cam-1", object_key=accepted.object_key),
    )


async def test_triton_outages_hold_frames_back_and_lose_or_duplicate_nothing(
    embedded_settings, model_repository, tmp_path
) -> None:
    """Triton down at start, then gone with frames in flight: retried, never committed or
    dead-lettered; once Triton answers, the held frame is embedded once.

    Harness note: pytriton's server cannot be restarted in one process, and breaks when it gets
    requests in the second after it reports ready; so the embed service is stopped while the test
    starts Triton (its frame waits, uncommitted, on the bus), and Triton is not restarted after
    it is stopped. A production Triton has neither limit; the service behaves the same.
    """
    server = TritonForRepository(model_repository, tmp_path, grpc_port=free_port())
    adapters = build_adapters(triton_settings(embedded_settings, model_repository, server.url))
    await adapters.start()
    publisher = EventPublisher(adapters.bus)
    try:
        async with running(adapters, ["embed"]) as runner:  # Triton down at start
            first = await checked(adapters, 31)
            errors = retryable_errors()
            await publisher.publish(first)
            await eventually(lambda: retryable_errors() >= errors + 2, what="retries while Triton is down")
            assert not await runner.is_ready()
            assert adapters.bus.lag(FRAMES_CHECKED.name, "embed") == 1  # not committed
        server.start()
        async with running(adapters, ["embed"]) as runner:
            await eventually(lambda: first.frame_id in embedded_ids(adapters.bus), timeout=60, what="first frame")
            assert await runner.is_ready()
            server.stop()  # gone with the service running
            later = [await checked(adapters, seed) for seed in (32, 33)]
            errors = retryable_errors()
            for event in later:
                await publisher.publish(event)
            await eventually(lambda: retryable_errors() >= errors + 2, what="retries after Triton went away")
            assert not await runner.is_ready()
            assert adapters.bus.lag(FRAMES_CHECKED.name, "embed") == 2  # held, not lost
    finally:
        server.stop()
    assert adapters.bus.records(FRAMES_CHECKED.dlq) == []
    assert embedded_ids(adapters.bus) == {first.frame_id}
    deps = embed_deps(adapters, adapters.settings.embed)
    client = await deps.vectors.start()
    count = (await client.count(deps.vectors.collection)).count
    await deps.close()
    adapters.close()
    assert count == 1  # one point for the one frame embedded, however many attempts it took


@pytest.mark.parametrize("backend", [EmbedBackendKind.TRITON])
def test_triton_backend_needs_the_embedding_size_in_the_manifest(tmp_path, backend) -> None:
    import json

    from tests.support.models import write_repository

    root = write_repository(tmp_path / "m")
    manifest = json.loads((root / "framesift.json").read_text())
    del manifest["embedding_dim"]
    (root / "framesift.json").write_text(json.dumps(manifest))
    with pytest.raises(ValueError, match="embedding_dim"):
        TritonBackend(ModelRepository.open(root), "127.0.0.1:1")
