"""The parts of a frame's priority, each in [0, 1], and their weighted mean.

Every part comes with a note when it cannot be measured (no detector, nothing selected yet), so
a client sees why a part is 0 instead of guessing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

PARTS = ("uncertainty", "rarity", "novelty", "quality")


@dataclass(frozen=True)
class PriorityParts:
    uncertainty: float
    rarity: float
    novelty: float
    quality: float

    def total(self, weights: Mapping[str, float]) -> float:
        return sum(share(name, weights) * getattr(self, name) for name in PARTS)


def share(part: str, weights: Mapping[str, float]) -> float:
    """A part's weight in the weighted mean (0 when every weight is 0)."""
    weight_sum = sum(weights[name] for name in PARTS)
    return weights[part] / weight_sum if weight_sum else 0.0


def uncertainty(scores: Sequence[float], threshold: float, *, has_detector: bool) -> tuple[float, str | None]:
    """How close the detector's most doubtful detection is to its decision threshold.

    1 at the threshold, falling linearly to 0 at a score of 0 or 1 (a margin measure: the
    detection a labeller's answer would most likely flip). Scores are all the detector's
    outputs we have, which are those above the service's reporting threshold.
    """
    if not has_detector:
        return 0.0, "uncertainty is 0: no detector (the descriptor backend gives no detections)"
    if not scores:
        return 0.0, "uncertainty is 0: the detector found nothing"
    span = max(threshold, 1.0 - threshold)
    return max(1.0 - abs(score - threshold) / span for score in scores), None


def rarity(
    classes: Sequence[str], chosen_with_class: Mapping[str, int], *, has_detector: bool
) -> tuple[float, str | None]:
    """Inverse frequency of the frame's rarest class among frames already selected or labelled.

    1 for a class never chosen before, 1 / (1 + n) for one that n chosen frames show; the
    frame's rarest class counts (one rare cyclist makes a crowded street scene worth it).
    """
    if not has_detector:
        return 0.0, "rarity is 0: no detector (the descriptor backend gives no classes)"
    if not classes:
        return 0.0, "rarity is 0: no class detected"
    return max(1.0 / (1.0 + chosen_with_class.get(name, 0)) for name in classes), None


def novelty(nearest_similarity: float | None) -> tuple[float, str | None]:
    """Cosine distance to the nearest frame already selected or labelled, capped at 1.

    Unit vectors: distance = 1 - similarity, 0 for the same image, about 1 for unrelated ones.
    """
    if nearest_similarity is None:
        return 1.0, "novelty is 1: nothing selected or labelled yet to compare with"
    return min(1.0, max(0.0, 1.0 - nearest_similarity)), None


def quality(margins: Mapping[str, float]) -> float:
    """How comfortably the frame passed quality: the mean of quality's pass margins (each in [0, 1],
    published on frames.checked), so curate ranks good against merely acceptable without knowing
    quality's thresholds. Frames that reach curate passed every gate."""
    values = [min(1.0, max(0.0, float(v))) for v in margins.values()]
    return sum(values) / len(values) if values else 0.0
