"""odd_size: a frame's size judged against what its source usually sends.

A broken encoder sends a thumbnail or a strip among 1080p frames; a camera that always sends
320x240 is not odd for being small. So a frame is odd when it is much smaller than, or shaped
unlike, its source's usual size: the size most of its recent frames had (a camera sends one
size; a folder of mixed photographs has no usual size, and then only the absolute bounds
apply). Two bounds hold whatever the source: a short side under `min_side_px`, where no
detector can work, and, without a usual size to compare with, a strip longer than
`max_aspect_ratio` to 1.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass

from .settings import QualityThresholds


@dataclass(frozen=True, order=True)
class FrameSize:
    width: int
    height: int

    @property
    def short_side(self) -> int:
        return min(self.width, self.height)

    @property
    def long_side(self) -> int:
        return max(self.width, self.height)

    @property
    def aspect_ratio(self) -> float:
        """Long side over short side (>= 1): a portrait and a landscape frame of one camera agree."""
        return self.long_side / max(1, self.short_side)


def usual_size(counts: Mapping[FrameSize, int], limits: QualityThresholds) -> FrameSize | None:
    """The size most frames had, once there are enough frames and that size is a majority."""
    total = sum(counts.values())
    if total < limits.usual_size_min_frames:  # no counts at all: 0, under any minimum (>= 1)
        return None
    size, frames = max(counts.items(), key=lambda item: (item[1], item[0]))  # ties: the larger
    return size if 2 * frames > total else None


def is_odd_size(size: FrameSize, usual: FrameSize | None, limits: QualityThresholds) -> bool:
    if size.short_side < limits.min_side_px:
        return True
    if usual is None:
        return size.aspect_ratio > limits.max_aspect_ratio
    scale = limits.usual_size_scale
    smaller = size.short_side < scale * usual.short_side or size.long_side < scale * usual.long_side
    change = size.aspect_ratio / usual.aspect_ratio
    return smaller or not (1 / limits.usual_aspect_change <= change <= limits.usual_aspect_change)


class FolderSizes:
    """The usual size of each folder `framesift scan` reads, from every file's header up front
    (the folder is the source, as a dataset is for CleanVision)."""

    def __init__(self, limits: QualityThresholds) -> None:
        self._limits = limits
        self._counts: dict[str, Counter[FrameSize]] = {}

    def count(self, folder: str, size: FrameSize) -> None:
        self._counts.setdefault(folder, Counter())[size] += 1

    def usual(self, folder: str) -> FrameSize | None:
        return usual_size(self._counts.get(folder, Counter()), self._limits)
