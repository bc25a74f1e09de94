"""Curate's settings section (FRAMESIFT_CURATE__*): priority weights, windows, budget, diversity."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field


class PriorityWeights(BaseModel):
    """Priority = weighted mean of its parts (each in [0, 1]); FRAMESIFT_CURATE__WEIGHTS__NOVELTY=2."""

    uncertainty: Annotated[float, Field(ge=0)] = 1.0
    rarity: Annotated[float, Field(ge=0)] = 1.0
    novelty: Annotated[float, Field(ge=0)] = 1.0
    quality: Annotated[float, Field(ge=0)] = 0.5


class CurateSettings(BaseModel):
    """Priority and selection under a labelling budget (FRAMESIFT_CURATE__*)."""

    weights: PriorityWeights = PriorityWeights()
    # The consumer group: a new name rebuilds the read model from the topics' beginning (with an
    # empty database), which yields the same state.
    group: str = Field(default="curate", pattern=r"^[A-Za-z0-9._-]{1,64}$")
    # Selection windows: frames are grouped by capture time into windows this long; a window is
    # chosen from once frames captured `lateness_s` after its end arrive (or on a flush).
    window_s: Annotated[float, Field(gt=0)] = 3600.0
    lateness_s: Annotated[float, Field(ge=0)] = 300.0
    # Cameras that go quiet (night, an outage) send no later frames to close their last window:
    # a window whose end + lateness has passed on the wall clock, and that no frame joined for
    # this long, is chosen from anyway. 0 turns it off (replays of old footage rely on the
    # watermark alone).
    idle_close_s: Annotated[float, Field(ge=0)] = 900.0
    # Labelling budget: frames chosen per window, at most this many per UTC day, and at most this
    # share of a window's budget for one camera.
    budget_per_window: Annotated[int, Field(ge=0)] = 50
    budget_per_day: Annotated[int, Field(ge=0)] = 1000
    camera_share: Annotated[float, Field(gt=0, le=1)] = 0.5
    # Diversity: within `min_distance` (cosine) of a chosen frame a candidate is a near copy and is
    # never chosen in the same window (selection.py says how the rest are weighed: no radius).
    min_distance: Annotated[float, Field(ge=0, le=2)] = 0.02
    # The detector's decision threshold the uncertainty part is measured around.
    score_threshold: Annotated[float, Field(gt=0, lt=1)] = 0.5
    # How many selected or labelled neighbours novelty looks at (and Explain shows).
    neighbours: Annotated[int, Field(ge=1, le=50)] = 3
    # What labelling one frame costs, for GetStats' "labelling cost avoided".
    cost_per_frame: Annotated[float, Field(ge=0)] = 0.05
