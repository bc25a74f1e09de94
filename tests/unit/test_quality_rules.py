"""Each gate at its threshold (passes) and just beyond it (fails); blur only judged where it can be."""

from __future__ import annotations

import dataclasses

import pytest

from framesift.contracts.vocabulary import Reason
from framesift.services.quality.measures import FrameMetrics
from framesift.services.quality.rules import image_reasons, pass_margins
from framesift.services.quality.settings import QualityThresholds
from framesift.v1 import frames_pb2

LIMITS = QualityThresholds()
HEALTHY = FrameMetrics(
    width=1920,
    height=1080,
    aspect_ratio=1920 / 1080,
    brightness=0.45,
    luma_p01=0.02,
    luma_p05=0.06,
    luma_p50=0.45,
    luma_p99=0.95,
    clipped_fraction=0.01,
    unclipped_p50=0.45,
    near_white_fraction=0.02,
    contrast=0.8,
    entropy=7.4,
    edge_blur_px=1.0,
)
EPS = 1e-6


def reasons(**changes) -> list[Reason]:
    return image_reasons(dataclasses.replace(HEALTHY, **changes), LIMITS)


def test_a_healthy_frame_passes() -> None:
    assert reasons() == []


PALE = {"unclipped_p50": 0.7}  # what still has detail is pale: needed for overexposed


@pytest.mark.parametrize(
    ("field", "at", "beyond", "reason", "with_"),
    [
        ("luma_p99", LIMITS.dark_luma_p99, LIMITS.dark_luma_p99 - EPS, Reason.DARK, {}),
        ("luma_p50", LIMITS.overexposed_luma_p50, LIMITS.overexposed_luma_p50 + EPS, Reason.OVEREXPOSED, PALE),
        (
            "clipped_fraction",
            LIMITS.overexposed_clipped_fraction,
            LIMITS.overexposed_clipped_fraction + EPS,
            Reason.OVEREXPOSED,
            PALE,
        ),
        (
            "unclipped_p50",
            LIMITS.overexposed_unclipped_p50,
            LIMITS.overexposed_unclipped_p50 + EPS,
            Reason.OVEREXPOSED,
            {"luma_p50": 0.9},
        ),
        (
            "near_white_fraction",
            LIMITS.overexposed_near_white_fraction,
            LIMITS.overexposed_near_white_fraction + EPS,
            Reason.OVEREXPOSED,
            {"clipped_fraction": 0.45},
        ),
        (
            "contrast",
            LIMITS.low_information_contrast,
            LIMITS.low_information_contrast - EPS,
            Reason.LOW_INFORMATION,
            {},
        ),
        ("edge_blur_px", LIMITS.blurry_edge_px, LIMITS.blurry_edge_px + EPS, Reason.BLURRY, {}),
    ],
)
def test_each_threshold_passes_at_and_fails_beyond(field: str, at: float, beyond: float, reason: Reason, with_) -> None:
    assert reasons(**with_, **{field: at}) == []
    assert reasons(**with_, **{field: beyond}) == [reason]


def test_bright_is_not_overexposed_while_the_subject_keeps_its_tones() -> None:
    # A white background (60 % burnt out, median white) around a subject of ordinary tones.
    assert reasons(luma_p50=1.0, clipped_fraction=0.6, unclipped_p50=0.35) == []
    # The same brightness with the subject washed out too.
    assert reasons(luma_p50=1.0, clipped_fraction=0.6, unclipped_p50=0.75) == [Reason.OVEREXPOSED]
    # Half burnt out over a dark street, with the highlights piled up just under white.
    assert reasons(clipped_fraction=0.45, unclipped_p50=0.4, near_white_fraction=0.2) == [Reason.OVEREXPOSED]
    # Pale but nowhere near white (a foggy morning): not overexposed either.
    assert reasons(luma_p50=0.7, clipped_fraction=0.0, unclipped_p50=0.7) == []


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"luma_p99": 0.1}, [Reason.DARK]),
        ({"luma_p50": 0.95, "unclipped_p50": 0.9}, [Reason.OVEREXPOSED]),
        ({"contrast": 0.01}, [Reason.LOW_INFORMATION]),
    ],
)
def test_blur_is_not_judged_where_exposure_or_emptiness_hides_the_edges(changes, expected) -> None:
    assert reasons(edge_blur_px=6.0, **changes) == expected


def test_every_applicable_reason_is_listed() -> None:
    assert reasons(luma_p99=0.1, contrast=0.01) == [
        Reason.DARK,
        Reason.LOW_INFORMATION,
    ]


def test_reasons_map_one_to_one_onto_the_proto_enum() -> None:
    values = {reason.to_proto() for reason in Reason}
    assert values == set(frames_pb2.RejectReason.values()) - {frames_pb2.REJECT_REASON_UNSPECIFIED}
    assert all(Reason.from_proto(reason.to_proto()) is reason for reason in Reason)


def test_thresholds_come_from_the_environment(monkeypatch) -> None:
    from framesift.app.settings import Settings

    monkeypatch.setenv("FRAMESIFT_QUALITY__BLURRY_EDGE_PX", "3.5")
    monkeypatch.setenv("FRAMESIFT_QUALITY__DEDUP_SCOPE", "global")
    settings = Settings()
    assert settings.quality.blurry_edge_px == 3.5
    assert settings.quality.dark_luma_p99 == LIMITS.dark_luma_p99
    assert settings.quality.dedup_scope == "global"


def test_pass_margins_say_how_far_from_each_threshold_a_kept_frame_is() -> None:
    margins = pass_margins(HEALTHY, LIMITS)
    assert set(margins) == {"sharpness", "exposure", "contrast"}
    assert margins["sharpness"] == 1.0  # a sharp edge (1 px) is as far from the blur limit as it gets
    at_limit = pass_margins(dataclasses.replace(HEALTHY, edge_blur_px=LIMITS.blurry_edge_px), LIMITS)
    assert at_limit["sharpness"] == 0.0  # at the threshold: no margin left
    halfway = (1.0 + LIMITS.blurry_edge_px) / 2
    assert pass_margins(dataclasses.replace(HEALTHY, edge_blur_px=halfway), LIMITS)["sharpness"] == pytest.approx(0.5)
    assert pass_margins(dataclasses.replace(HEALTHY, luma_p50=0.5), LIMITS)["exposure"] == 1.0
    assert pass_margins(dataclasses.replace(HEALTHY, luma_p50=0.95), LIMITS)["exposure"] == pytest.approx(0.1)
    # The margins follow the threshold setting: a laxer blur limit leaves a soft frame more margin.
    lax = LIMITS.model_copy(update={"blurry_edge_px": 4.0})
    soft = dataclasses.replace(HEALTHY, edge_blur_px=1.9)
    assert pass_margins(soft, lax)["sharpness"] > pass_margins(soft, LIMITS)["sharpness"]
