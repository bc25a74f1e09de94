"""Quality's settings section (FRAMESIFT_QUALITY__*): its gates' thresholds and its dedup index."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, Field


class DedupScope(StrEnum):
    CAMERA = "camera"  # a frame duplicates only earlier frames of its own camera
    GLOBAL = "global"  # ... or of any camera


class QualityThresholds(BaseModel):
    """Where each quality gate rejects; a frame exactly at a threshold passes.

    The metrics are defined in framesift.services.quality.measures; the defaults were set from
    what each metric means (see docs in README) and checked on photos and video frames from
    several sources. Override one with e.g. FRAMESIFT_QUALITY__BLURRY_EDGE_PX=2.5.
    """

    # odd_size: the short side is below this, or long/short side exceeds max_aspect_ratio.
    min_side_px: Annotated[int, Field(ge=1)] = 128
    max_aspect_ratio: Annotated[float, Field(ge=1)] = 4.0
    # dark: even the brightest 1 % of the frame is below a quarter of full scale.
    dark_luma_p99: Annotated[float, Field(ge=0, le=1)] = 0.25
    # overexposed: the median pixel is near white, or over a third of the frame is burnt out.
    overexposed_luma_p50: Annotated[float, Field(ge=0, le=1)] = 0.80
    overexposed_clipped_fraction: Annotated[float, Field(ge=0, le=1)] = 0.35
    # low_information: the denoised frame spans less than 5 % of the luma range (uniform).
    low_information_contrast: Annotated[float, Field(ge=0, le=1)] = 0.05
    # blurry: the sharpest edges are spread like a Gaussian blur of sigma > 2 px at the 480 px
    # working size (0.4 % of the frame's long side; a sharp edge reads 0.8-1 px).
    blurry_edge_px: Annotated[float, Field(gt=0)] = 2.0
    # near_duplicate: pHash within this many of 64 bits of an earlier kept frame.
    near_duplicate_radius: Annotated[int, Field(ge=0, le=16)] = 8


class QualitySettings(QualityThresholds):
    """The thresholds (FRAMESIFT_QUALITY__BLURRY_EDGE_PX=2.5), and how duplicates are looked for."""

    dedup_scope: DedupScope = DedupScope.CAMERA
    # Near-duplicate hashes kept in memory per process; the oldest are forgotten beyond this
    # (exact duplicates are found in SQL and are not bounded). About 32 bytes per hash, three
    # hashes per kept frame (whole frame and two central crops).
    dedup_index_max_hashes: Annotated[int, Field(ge=1000)] = 2_000_000
    # Threads decoding and measuring frames (Pillow and numpy release the GIL).
    workers: Annotated[int, Field(ge=1)] = 2
