"""Splits stratified by camera and part of day: every stratum holds its share at every size."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from framesift.contracts.splits import Split, SplitSettings, part_of_day, stratified_split, stratum_of


@pytest.mark.parametrize("share", [0.05, 0.10, 0.25])
def test_every_stratum_holds_its_share_to_within_three_frames_at_every_length(share: float) -> None:
    settings = SplitSettings(evaluation=share, val=0.10)
    for camera in ("cam-1", "gate-3", "north"):
        for part in ("night", "morning", "afternoon", "evening"):
            stratum = f"{camera}|{part}"
            drawn = [stratified_split(stratum, k, settings) for k in range(400)]
            for n in range(1, 401):
                evaluation = sum(1 for split in drawn[:n] if split is Split.EVALUATION)
                val = sum(1 for split in drawn[:n] if split is Split.VAL)
                assert abs(evaluation - share * n) <= 3, (stratum, n)
                assert abs(val - 0.10 * n) <= 3, (stratum, n)  # a hash draw: sd 6 at n = 400


def test_strata_start_at_different_places_and_a_position_always_gives_the_same_split() -> None:
    settings = SplitSettings()
    firsts = {stratified_split(f"cam-{i}|night", 0, settings) for i in range(50)}
    assert firsts == {Split.TRAIN, Split.VAL, Split.EVALUATION}  # not every camera's first frame in one split
    assert [stratified_split("cam-1|night", k, settings) for k in range(30)] == [
        stratified_split("cam-1|night", k, settings) for k in range(30)
    ]
    assert stratified_split("cam-1|night", 3, SplitSettings(evaluation=0.0, val=0.0)) is Split.TRAIN


def test_strata_are_camera_and_part_of_day() -> None:
    at = datetime(2026, 12, 1, 19, 30, tzinfo=UTC).timestamp()
    assert stratum_of("cam-7", at) == "cam-7|evening"
    assert [part_of_day(datetime(2026, 12, 1, hour, tzinfo=UTC)) for hour in (0, 5, 6, 11, 12, 16, 17, 20, 21, 23)] == [
        "night", "night", "morning", "morning", "afternoon", "afternoon", "evening", "evening", "night", "night",
    ]  # fmt: skip
