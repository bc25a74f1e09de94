"""From metrics to reasons: which gates a frame fails under the configured thresholds."""

from __future__ import annotations

from enum import StrEnum

from framesift.settings import QualityThresholds
from framesift.v1 import frames_pb2

from .measures import FrameMetrics


class Reason(StrEnum):
    """The reject reasons, named as in the RejectReason enum without its prefix."""

    CORRUPT = "corrupt"
    BLURRY = "blurry"
    DARK = "dark"
    OVEREXPOSED = "overexposed"
    LOW_INFORMATION = "low_information"
    ODD_SIZE = "odd_size"
    EXACT_DUPLICATE = "exact_duplicate"
    NEAR_DUPLICATE = "near_duplicate"

    def to_proto(self) -> int:
        return frames_pb2.RejectReason.Value(f"REJECT_REASON_{self.name}")

    @classmethod
    def from_proto(cls, value: int) -> Reason:
        return cls[frames_pb2.RejectReason.Name(value).removeprefix("REJECT_REASON_")]


def image_reasons(metrics: FrameMetrics, limits: QualityThresholds) -> list[Reason]:
    """Every content gate the frame fails, in a fixed order.

    Sharpness is only judged where there is something to judge: on a uniform frame, or one
    whose exposure has crushed or burnt out the detail, edge widths say nothing about
    focus, so such a frame is rejected for that reason and not also called blurry.
    """
    reasons: list[Reason] = []
    if min(metrics.width, metrics.height) < limits.min_side_px or metrics.aspect_ratio > limits.max_aspect_ratio:
        reasons.append(Reason.ODD_SIZE)
    if metrics.luma_p99 < limits.dark_luma_p99:
        reasons.append(Reason.DARK)
    if metrics.luma_p50 > limits.overexposed_luma_p50 or metrics.clipped_fraction > limits.overexposed_clipped_fraction:
        reasons.append(Reason.OVEREXPOSED)
    if metrics.contrast < limits.low_information_contrast:
        reasons.append(Reason.LOW_INFORMATION)
    judged = not {Reason.DARK, Reason.OVEREXPOSED, Reason.LOW_INFORMATION} & set(reasons)
    if judged and metrics.edge_blur_px > limits.blurry_edge_px:
        reasons.append(Reason.BLURRY)
    return reasons
