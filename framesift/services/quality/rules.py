"""From metrics to reasons: which gates a frame fails under the configured thresholds."""

from __future__ import annotations

from framesift.contracts.vocabulary import Reason

from .measures import FrameMetrics
from .settings import QualityThresholds


def image_reasons(metrics: FrameMetrics, limits: QualityThresholds) -> list[Reason]:
    """Every content gate the frame fails, in a fixed order (odd_size, which depends on the
    frame's source, is judged with its history: quality.verdict).

    Sharpness is only judged where there is something to judge: on a uniform frame, or one
    whose exposure has crushed or burnt out the detail, edge widths say nothing about
    focus, so such a frame is rejected for that reason and not also called blurry.
    """
    reasons: list[Reason] = []
    if metrics.luma_p99 < limits.dark_luma_p99:
        reasons.append(Reason.DARK)
    if is_washed_out(metrics, limits):
        reasons.append(Reason.OVEREXPOSED)
    if metrics.contrast < limits.low_information_contrast:
        reasons.append(Reason.LOW_INFORMATION)
    judged = not {Reason.DARK, Reason.OVEREXPOSED, Reason.LOW_INFORMATION} & set(reasons)
    if judged and metrics.edge_blur_px > limits.blurry_edge_px:
        reasons.append(Reason.BLURRY)
    return reasons


def is_washed_out(metrics: FrameMetrics, limits: QualityThresholds) -> bool:
    """Overexposed means washed out, not bright. The frame is near white (its median) or largely
    burnt out, and the exposure shows in what is left: either what still has detail is pale too
    (the median of the unburnt pixels above middle grey: shadows and midtones were lifted), or a
    band of near-white pixels sits just under the clip point (highlights compressed against
    white). A white background or snow around a correctly exposed subject is flat white with the
    subject's own tones beside it, and passes."""
    bright = (
        metrics.luma_p50 > limits.overexposed_luma_p50 or metrics.clipped_fraction > limits.overexposed_clipped_fraction
    )
    lifted = (
        metrics.unclipped_p50 > limits.overexposed_unclipped_p50
        or metrics.near_white_fraction > limits.overexposed_near_white_fraction
    )
    return bright and lifted


def pass_margins(metrics: FrameMetrics, limits: QualityThresholds) -> dict[str, float]:
    """How comfortably a kept frame passed, per aspect, each in [0, 1] (published on frames.checked).

    sharpness: 1 at an edge width of 1 px or less (a sharp edge), 0 at the blur threshold;
    exposure: 1 for a mid-grey median, 0 at black or white; contrast: the denoised luma range.
    """
    span = max(limits.blurry_edge_px - 1.0, 1e-6)
    return {
        "sharpness": _unit((limits.blurry_edge_px - metrics.edge_blur_px) / span),
        "exposure": _unit(1.0 - abs(metrics.luma_p50 - 0.5) / 0.5),
        "contrast": _unit(metrics.contrast),
    }


def _unit(value: float) -> float:
    return min(1.0, max(0.0, float(value)))
