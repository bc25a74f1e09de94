"""Which split a labelled frame belongs to: train, val or evaluation, fixed by the frame id and a
seed, so label (which exports train and val) and evaluate (which keeps the evaluation split) agree
without asking each other, and a frame never changes split (a hash draw, so every camera and
class lands in each split in proportion to its frames, in expectation).
"""

from __future__ import annotations

import hashlib
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
