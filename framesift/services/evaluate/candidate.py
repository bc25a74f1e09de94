"""A model version that has not run in the pipeline yet (a new model repository), run over the
evaluation split through the shared inference backends (local ONNX or Triton), so that its
detections sit beside the deployed model's and a run or a comparison can score it before anyone
deploys it. The frames come from the object store under the keys labels.completed carried."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

import numpy as np
import sqlalchemy as sa
from sqlalchemy import Engine

from framesift.inference.backends.base import EmbeddingBackend
from framesift.inference.preprocess import UndecodableFrameError, prepare
from framesift.sql.columns import insert_for
from framesift.store.base import ObjectNotFoundError, ObjectStore

from .records import PREDICTIONS, TRUTH

BATCH = 16


class NoDetectorError(ValueError):
    """The backend finds no objects (the weights-free descriptor, or a repository without a detector)."""


@dataclass(frozen=True)
class CandidateRun:
    model_version: str
    frames: int  # run over
    missing: int  # labelled frames whose bytes are not in the store (or that no longer decode)


async def predict_split(engine: Engine, store: ObjectStore, backend: EmbeddingBackend, split: str) -> CandidateRun:
    if not backend.has_detector:
        raise NoDetectorError(f"{backend.name}/{backend.version} has no detector: there is nothing to evaluate")
    model = f"{backend.name}/{backend.version}"
    frames = await asyncio.to_thread(_frames, engine, split)
    done = missing = 0
    for start in range(0, len(frames), BATCH):
        batch, pixels = [], []
        for frame_id, key in frames[start : start + BATCH]:
            try:
                pixels.append(prepare(await store.get(key), backend.input_size).pixels)
            except (ObjectNotFoundError, UndecodableFrameError):
                missing += 1
                continue
            batch.append(frame_id)
        if not batch:
            continue
        found = await backend.embed_images(np.stack(pixels))
        rows = [
            {
                "frame_id": frame_id,
                "model_version": model,
                "detections": [
                    {"class": d.class_name, "score": float(d.score), "box": [float(v) for v in d.box]}
                    for d in embedding.detections
                ],
            }
            for frame_id, embedding in zip(batch, found, strict=True)
        ]
        await asyncio.to_thread(_store, engine, rows)
        done += len(rows)
    return CandidateRun(model, done, missing)


def _frames(engine: Engine, split: str) -> list[tuple[str, str]]:
    query = (
        sa.select(TRUTH.c.frame_id, TRUTH.c.object_key)
        .where(TRUTH.c.split == split, TRUTH.c.object_key != "")
        .order_by(TRUTH.c.frame_id)
    )
    with engine.connect() as connection:
        return [(row.frame_id, row.object_key) for row in connection.execute(query)]


def _store(engine: Engine, rows: list[dict]) -> None:
    """The candidate's detections, with the frame's quality metrics taken from a model that ran
    in the pipeline (so metric slices work for the candidate too)."""
    with engine.begin() as connection:
        known = sa.select(PREDICTIONS.c.frame_id, PREDICTIONS.c.metrics).where(
            PREDICTIONS.c.frame_id.in_([row["frame_id"] for row in rows]),
            PREDICTIONS.c.model_version != rows[0]["model_version"],
        )
        metrics: dict[str, dict] = {}
        for frame_id, values in connection.execute(known):
            if values and frame_id not in metrics:
                metrics[frame_id] = values
        for row in rows:
            insert = insert_for(connection.dialect.name, PREDICTIONS).values(
                **row, metrics=metrics.get(row["frame_id"]) or {}, received_at=time.time()
            )
            connection.execute(
                insert.on_conflict_do_update(
                    index_elements=["frame_id", "model_version"], set_={"detections": insert.excluded.detections}
                )
            )
