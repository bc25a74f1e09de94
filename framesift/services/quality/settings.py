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

    # odd_size (see quality.sizes): always when the short side is under 64 px, where no detector
    # works (a whole frame smaller than a COCO "medium" object); against the source's usual size
    # (the size of a majority of its last ~1000 frames, once it has sent usual_size_min_frames):
    # a side under half the usual one, or a long/short ratio 1.5x away from the usual one; with no
    # usual size yet, a strip longer than 4:1.
    min_side_px: Annotated[int, Field(ge=1)] = 64
    max_aspect_ratio: Annotated[float, Field(ge=1)] = 4.0
    usual_size_scale: Annotated[float, Field(gt=0, le=1)] = 0.5
    usual_aspect_change: Annotated[float, Field(ge=1)] = 1.5
    usual_size_min_frames: Annotated[int, Field(ge=1)] = 10
    # dark: even the brightest 1 % of the frame is below a quarter of full scale.
    dark_luma_p99: Annotated[float, Field(ge=0, le=1)] = 0.25
    # overexposed (washed out, rules.is_washed_out): the median pixel is near white or over a third
    # of the frame is burnt out, and either the median of the pixels that still have detail is
    # above 0.5, just over middle grey (18 % reflectance is 0.46 in sRGB), or over a tenth of the
    # frame sits just under white (0.8 <= luma < 250/255): the tonal range was pushed up, not only
    # a white background or a snowfield behind a correctly exposed subject.
    overexposed_luma_p50: Annotated[float, Field(ge=0, le=1)] = 0.80
    overexposed_clipped_fraction: Annotated[float, Field(ge=0, le=1)] = 0.35
    overexposed_unclipped_p50: Annotated[float, Field(ge=0, le=1)] = 0.50
    overexposed_near_white_fraction: Annotated[float, Field(ge=0, le=1)] = 0.10
    # low_information: the denoised frame spans less than 5 % of the luma range (uniform).
    low_information_contrast: Annotated[float, Field(ge=0, le=1)] = 0.05
    # blurry: the sharpest edges are spread like a Gaussian blur of sigma > 2 px at the 480 px
    # working size (0.4 % of the frame's long side; a sharp edge reads 0.8-1 px).
    blurry_edge_px: Annotated[float, Field(gt=0)] = 2.0
    # near_duplicate: a pHash of the frame or of one of its crop windows within this many of 64
    # bits of one of an earlier frame's (measures.CROP_WINDOWS).
    near_duplicate_radius: Annotated[int, Field(ge=0, le=16)] = 10


class QualitySettings(QualityThresholds):
    """The thresholds (FRAMESIFT_QUALITY__BLURRY_EDGE_PX=2.5), and how duplicates are looked for."""

    dedup_scope: DedupScope = DedupScope.CAMERA
    # Near-duplicate hashes kept in memory per process; the oldest are forgotten beyond this
    # (exact duplicates are found in SQL and are not bounded). About 32 bytes per hash, three
    # hashes per kept frame (whole frame and two central crops).
    dedup_index_max_hashes: Annotated[int, Field(ge=1000)] = 2_000_000
    # Threads decoding and measuring frames (Pillow and numpy release the GIL).
    workers: Annotated[int, Field(ge=1)] = 2
