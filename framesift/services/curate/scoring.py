"""A frame's priority parts from what curate knows of it: detections, quality's margins, novelty."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from . import priority
from .chosen import Chosen
from .deps import CurateDeps


def parts(
    deps: CurateDeps,
    *,
    has_detector: bool,
    detections: list[tuple[str, float]],
    margins: Mapping[str, float],
    prior: tuple[str, float] | None,
    chosen: Chosen,
) -> priority.PriorityParts:
    return priority.PriorityParts(
        uncertainty=priority.uncertainty(
            [score for _, score in detections], deps.settings.score_threshold, has_detector=has_detector
        )[0],
        rarity=priority.rarity([name for name, _ in detections], chosen.class_counts, has_detector=has_detector)[0],
        novelty=priority.novelty(prior[1] if prior else None)[0],
        quality=priority.quality(margins),
    )


async def priors(
    deps: CurateDeps, vectors: dict[str, np.ndarray], chosen: Chosen
) -> dict[str, tuple[str, float] | None]:
    """For each point (id -> its vector): the nearest frame already selected or labelled, and
    its similarity; None when nothing is chosen yet."""
    if not vectors:
        return {}
    await deps.chosen_vectors.sync(chosen.points, lambda ids: deps.vector_call(deps.vectors.vectors(ids)))
    known = list(vectors)
    found = deps.chosen_vectors.nearest([vectors[pid] for pid in known], limit=1, exclude=set(known))
    return {pid: (hits[0] if hits else None) for pid, hits in zip(known, found, strict=True)}
