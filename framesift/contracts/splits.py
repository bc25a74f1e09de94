"""Which split a labelled frame belongs to: train, val or evaluation.

Stratified by camera and part of day: label gives the n-th task of a stratum (a camera's frames
by part of day, in the order curate selected them) the n-th point of a Weyl sequence started at a
phase drawn from the stratum and a seed, and the point's place in [0, 1) decides the split. The
points of a Weyl sequence fill [0, 1) evenly at every length, so every stratum holds its share
to within three frames at any size up to 400 (tests/unit/test_splits.py); a hash draw per frame
holds it only in expectation (10 % of 400 frames is then 40 +- 6). A frame's split is stored
with its task, so it never changes; a replay of frames.selected (a camera's frames stay in order
on their partition) gives the same.

`split_of` (the hash draw by frame id) is the split of tasks made before splits were stored.
"""

from __future__ import annotations

import hashlib
import math
from datetime import UTC, datetime
from enum import StrEnum

from pydantic import BaseModel, Field, model_validator


class Split(StrEnum):
    TRAIN = "train"
    VAL = "val"
    EVALUATION = "evaluation"


TRAINING_SPLITS = (Split.TRAIN, Split.VAL)


class SplitSettings(BaseModel):
    """Shares of labelled frames per split (FRAMESIFT_SPLITS__*); train takes the rest."""

    seed: str = "framesift-splits"
    evaluation: float = Field(default=0.10, ge=0, le=1)
    val: float = Field(default=0.10, ge=0, le=1)

    @model_validator(mode="after")
    def _shares_fit(self) -> SplitSettings:
        if self.evaluation + self.val > 1:
            raise ValueError("splits.evaluation + splits.val must not exceed 1")
        return self


def split_of(frame_id: str, settings: SplitSettings) -> Split:
    digest = hashlib.sha256(f"{settings.seed}\0{frame_id}".encode()).digest()
    drawn = int.from_bytes(digest[:8], "big") / 2**64
    if drawn < settings.evaluation:
        return Split.EVALUATION
    if drawn < settings.evaluation + settings.val:
        return Split.VAL
    return Split.TRAIN


# Hours (UTC, or the offset the timestamp carries) -> part of day; street scenes change most at
# dawn and dusk, so night is its own part rather than the tail of the evening.
PARTS_OF_DAY = ((0, "night"), (6, "morning"), (12, "afternoon"), (17, "evening"), (21, "night"))
_GOLDEN = (math.sqrt(5) - 1) / 2  # the Weyl step that spreads points most evenly


def part_of_day(when: datetime) -> str:
    part = PARTS_OF_DAY[0][1]
    for start, name in PARTS_OF_DAY:
        if when.hour >= start:
            part = name
    return part


def stratum_of(camera_id: str, captured_at: float) -> str:
    return f"{camera_id}|{part_of_day(datetime.fromtimestamp(captured_at, UTC))}"


def stratified_split(stratum: str, position: int, settings: SplitSettings) -> Split:
    """The split of the `position`-th frame (from 0) of a stratum."""
    digest = hashlib.sha256(f"{settings.seed}\0stratum\0{stratum}".encode()).digest()
    phase = int.from_bytes(digest[:8], "big") / 2**64
    point = (phase + position * _GOLDEN) % 1.0
    if point < settings.evaluation:
        return Split.EVALUATION
    if point < settings.evaluation + settings.val:
        return Split.VAL
    return Split.TRAIN
