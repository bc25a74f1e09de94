"""Everything quality decides from a frame's bytes alone (no history): the pure, CPU-bound part.

Shared verbatim by the streaming service and `framesift scan`, so both judge a frame the same way.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from framesift.contracts.vocabulary import Reason
from framesift.services.quality.settings import QualityThresholds

from .decoding import decode
from .integrity import CorruptFrameError
from .measures import FrameMetrics, measure, perceptual_hashes
from .rules import image_reasons
from .sizes import FrameSize


@dataclass(frozen=True)
class Assessment:
    sha256: str
    reasons: tuple[Reason, ...]
    metrics: FrameMetrics | None  # None when the frame could not be decoded
    phashes: tuple[int, ...]  # whole frame first, then its central crops; empty when corrupt
    corrupt_detail: str | None = None

    @property
    def phash(self) -> int | None:
        return self.phashes[0] if self.phashes else None

    @property
    def corrupt(self) -> bool:
        return self.metrics is None

    @property
    def size(self) -> FrameSize | None:
        return FrameSize(self.metrics.width, self.metrics.height) if self.metrics else None

    def metric_values(self) -> dict[str, float]:
        return self.metrics.as_dict() if self.metrics else {}


def assess(data: bytes, limits: QualityThresholds) -> Assessment:
    sha256 = hashlib.sha256(data).hexdigest()
    try:
        frame = decode(data)
    except CorruptFrameError as exc:
        return Assessment(sha256, (Reason.CORRUPT,), None, (), corrupt_detail=str(exc))
    metrics = measure(frame.grey, frame.width, frame.height)
    return Assessment(sha256, tuple(image_reasons(metrics, limits)), metrics, perceptual_hashes(frame.grey))
