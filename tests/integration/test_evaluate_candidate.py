"""A model repository nobody deployed yet, run over the evaluation split with the frames from the
object store, then evaluated and compared like a model version that ran in the pipeline.

The repository is tests/support/models.py's tiny one: real ONNX files and layout, untrained
weights: what is checked is the path (frames in, detections stored under the repository's
name/version, a run scored), never how good it is."""

from __future__ import annotations

import asyncio
import hashlib

import sqlalchemy as sa
from click.testing import CliRunner

from framesift.app.cli import main
from framesift.app.process import load_settings
from framesift.app.registry import build_adapters
from framesift.contracts.splits import Split
from framesift.contracts.vocabulary import timestamp
from framesift.services.evaluate.handlers import EvaluateDeps, record_detections, record_labels
from framesift.services.evaluate.tables import Prediction
from framesift.v1 import frames_pb2, labels_pb2
from tests.support.scenes import encode, scene

FRAMES = 12


async def _frames_in_the_store_and_labelled(adapters) -> list[str]:
    await adapters.store.start()
    deps = EvaluateDeps(adapters.engine)
    ids = []
    for at in range(FRAMES):
        data = encode(scene(640, 360, seed=at))
        key = f"frames/cam-1/{hashlib.sha256(data).hexdigest()[:2]}/{hashlib.sha256(data).hexdigest()}.jpg"
        if at != FRAMES - 1:  # the last one's bytes are gone from the store
            await adapters.store.put(key, data, "image/jpeg")
        frame_id = f"frame-{at:03d}"
        ids.append(frame_id)
        box = frames_pb2.Box(x_min=0.1, y_min=0.2, x_max=0.4, y_max=0.7)
        await record_labels(
            labels_pb2.LabelsCompleted(
                frame_id=frame_id, camera_id="cam-1", split=Split.EVALUATION.value, width=640, height=360,
                captured_at=timestamp(1_800_000_000.0 + at), completed_at=timestamp(1_800_000_100.0),
                object_key=key, ontology_version="1",
                annotations=[labels_pb2.Annotation(class_name="car", class_id=1, box=box)],
            ),
            deps,
        )  # fmt: skip
        # The deployed model's detections (and the frame's quality metrics) from frames.embedded.
        await record_detections(
            frames_pb2.FrameEmbedded(
                frame_id=frame_id, camera_id="cam-1", model_name="deployed", model_version="1", has_detector=True,
                metrics={"brightness": 0.5}, detections=[frames_pb2.Detection(class_name="car", score=0.9, box=box)],
            ),
            deps,
        )  # fmt: skip
    return ids


def test_a_candidate_repository_is_run_over_the_split_then_evaluated_and_compared(
    tmp_path, monkeypatch, model_repository
) -> None:
    monkeypatch.setenv("FRAMESIFT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("FRAMESIFT_EVALUATE__RESAMPLES", "50")
    adapters = build_adapters(load_settings(), services=["evaluate"])
    from framesift.app.registry import create_schema

    create_schema(adapters.engine, ["evaluate"])
    asyncio.run(_frames_in_the_store_and_labelled(adapters))
    adapters.close()

    result = CliRunner().invoke(
        main, ["evaluate", "candidate", str(model_repository), "--slice", "camera", "--against", "deployed/1"],
        catch_exceptions=False,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert f"tiny-test/test-1: detections on {FRAMES - 1} frames of the evaluation split" in result.output
    assert "(1 frames not in the store, left out)" in result.output
    assert "tiny-test/test-1 minus deployed/1 on" in result.output

    adapters = build_adapters(load_settings(), services=["evaluate"])
    with adapters.engine.connect() as connection:
        rows = (
            connection.execute(sa.select(Prediction.__table__).where(Prediction.model_version == "tiny-test/test-1"))
            .mappings()
            .all()
        )
    adapters.close()
    assert len(rows) == FRAMES - 1
    assert all(row["metrics"] == {"brightness": 0.5} for row in rows)  # carried from the pipeline's model
    for row in rows:
        assert all(0 <= v <= 1 for d in row["detections"] for v in d["box"])
    listed = CliRunner().invoke(main, ["evaluate", "reports", "--model", "tiny-test/test-1"])
    assert "tiny-test/test-1" in listed.output
    # A repository without a detector has nothing to evaluate; a folder that is no repository is
    # no model at all: each said so in one line.
    from tests.support.models import write_repository

    embedder_only = write_repository(tmp_path / "clip-only", detector=False, family="clip-only")
    refused = CliRunner().invoke(main, ["evaluate", "candidate", str(embedder_only)])
    assert (refused.exit_code, "clip-only/test-1 has no detector" in refused.output) == (1, True)
    not_a_repository = CliRunner().invoke(main, ["evaluate", "candidate", str(tmp_path / "data")])
    assert not_a_repository.exit_code == 1
    assert "Traceback" not in not_a_repository.output
