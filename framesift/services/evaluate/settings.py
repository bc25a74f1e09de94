"""The evaluate service's settings section (FRAMESIFT_EVALUATE__*)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field

from framesift.contracts.splits import Split

from .label_errors import LabelErrorThresholds


class EvaluateSettings(BaseModel):
    group: str = "evaluate"
    # The split runs score against: the evaluation split is never exported for training.
    split: Split = Split.EVALUATION
    # Slices every run reports (class, camera, time of day, or an image field).
    slices: list[str] = ["camera", "time", "class"]
    resamples: Annotated[int, Field(ge=10, le=100_000)] = 1000
    seed: int = 0
    # Label-error candidates of each run, sent on labels.flagged (label routes them to review).
    label_errors: LabelErrorThresholds = LabelErrorThresholds()
    flag_label_errors: bool = True
    # Runs by themselves: a model version is evaluated again once this many more frames of the
    # split are labelled and detected than at its last run (0: only when asked).
    auto_after_frames: Annotated[int, Field(ge=0)] = 200
    auto_check_s: Annotated[float, Field(gt=0)] = 60.0
    # Detections of a frame nobody labelled are dropped this long after they arrived (embed sees
    # every frame; only selected ones are labelled, within days if at all).
    keep_unlabelled_s: Annotated[float, Field(gt=0)] = 14 * 86400.0
