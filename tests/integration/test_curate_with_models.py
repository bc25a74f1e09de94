"""Curate on a model repository's detector (the tiny test repository, local backend): detections
reach the read model and the priority parts that need a detector are measured, not zero."""

from __future__ import annotations

import re
from collections import Counter

import pytest
import sqlalchemy as sa

from framesift.app.registry import build_adapters
from framesift.contracts.query import parse
from framesift.contracts.vocabulary import Status
from framesift.inference.backends.base import TextSearchUnavailableError
from framesift.runtime.settings import EmbedBackendKind
from framesift.services.curate.changes import FrameChanges
from framesift.services.curate.queries import CurationApi
from framesift.services.curate.settings import CurateSettings
from framesift.services.curate.tables import CuratedFrame
from framesift.services.embed.bootstrap import build_backend, build_vectors
from tests.support.curation import run_pipeline, uploads


async def test_detections_feed_uncertainty_and_rarity(embedded_settings, model_repository) -> None:
    settings = embedded_settings.model_copy(
        update={
            "embed_backend": EmbedBackendKind.LOCAL,
            "model_repository": model_repository,
            "curate": CurateSettings(window_s=1800, lateness_s=0, budget_per_window=2, budget_per_day=100),
        }
    )
    frame_ids = await run_pipeline(settings, uploads("model-cam", count=9))
    adapters = build_adapters(settings)
    api = CurationApi(
        adapters.engine,
        build_vectors(settings, None),
        settings.curate,
        FrameChanges(),
        lambda: build_backend(settings),
    )
    try:
        page = await api.query_frames("camera:model-cam status:selected", 50, "")
        assert page.frames
        with_detections = [r for r in page.frames if r.detected_classes]
        assert with_detections, "the tiny detector finds classes in bright frames"
        assert all(r.model.startswith("tiny-test/") for r in page.frames)
        assert any(r.priority.uncertainty > 0 for r in with_detections)
        assert any(r.priority.rarity > 0 for r in with_detections)
        why = await api.explain(with_detections[0].frame.frame_id)
        assert not any("no detector" in note for note in why.notes)

        by_class = await api.query_frames("class:car", 50, "")
        assert all(r.detected_classes["car"] >= 1 for r in by_class.frames)
        assert set(parse("class:car").classes) == {"car"}
        with pytest.raises(TextSearchUnavailableError, match="clip_text"):
            await api.search_text("a car", 5, "")
        assert len(frame_ids) == 11
        assert_rarity_counts_every_earlier_pick(adapters.engine)
    finally:
        await api.close()
        await api.vectors.close()
        adapters.close()


def assert_rarity_counts_every_earlier_pick(engine) -> None:
    """Each selected frame's stored rarity is 1 / (1 + n) for its rarest class, n counting every
    frame chosen before it: in earlier windows and earlier in its own window."""
    table = CuratedFrame.__table__
    with engine.connect() as connection:
        rows = connection.execute(
            sa.select(table.c.window_id, table.c.decision, table.c.classes, table.c.rarity).where(
                table.c.status == int(Status.SELECTED)
            )
        ).all()
    picks = sorted(rows, key=lambda r: (r.window_id, int(re.search(r"chosen #(\d+)", r.decision).group(1))))
    counts: Counter[str] = Counter()
    for row in picks:
        classes = [name for name in row.classes.split(",") if name]
        expected = max((1.0 / (1.0 + counts[name]) for name in classes), default=0.0)
        assert row.rarity == pytest.approx(expected), row
        counts.update(classes)
    assert any(row.rarity < 1.0 for row in picks if row.classes.strip(",")), "some pick was made less rare"
