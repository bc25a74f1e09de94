"""What a verdict says when a frame is both rejected for itself and a duplicate (issue 16, item 4)."""

from __future__ import annotations

from PIL import Image

from framesift.contracts.vocabulary import Reason
from framesift.services.quality.assess import assess
from framesift.services.quality.duplicates import MemoryDuplicates
from framesift.services.quality.settings import QualityThresholds
from framesift.services.quality.verdict import Verdict, judge
from tests.support.scenes import blurred, encode, scaled_luma, scene

LIMITS = QualityThresholds()


def judged_in_order(frames: list[tuple[str, bytes]]) -> dict[str, Verdict[str]]:
    duplicates: MemoryDuplicates[str] = MemoryDuplicates()
    verdicts = {}
    for name, data in frames:
        assessment = assess(data, LIMITS)
        verdict = judge(assessment, duplicates, LIMITS)
        duplicates.remember(assessment, verdict, name)
        verdicts[name] = verdict
    return verdicts


def dark(image: Image.Image) -> Image.Image:
    return scaled_luma(image, 0.15)


def test_copies_of_a_rejected_frame_name_it() -> None:
    night = dark(scene(seed=11))
    verdicts = judged_in_order(
        [
            ("dark", encode(night)),
            ("dark-reencoded", encode(night, quality=40)),
            ("dark-resized", encode(night.resize((480, 270)))),
            ("dark-exact", encode(night)),
        ]
    )
    assert verdicts["dark"] == Verdict((Reason.DARK,), None)
    assert verdicts["dark-reencoded"] == Verdict((Reason.DARK, Reason.NEAR_DUPLICATE), "dark")
    # A duplicate is not indexed itself: a copy of a copy names the frame first seen.
    assert verdicts["dark-resized"] == Verdict((Reason.DARK, Reason.NEAR_DUPLICATE), "dark")
    assert verdicts["dark-exact"] == Verdict((Reason.DARK, Reason.EXACT_DUPLICATE), "dark")


def test_a_rejected_frame_is_a_duplicate_of_a_kept_one() -> None:
    image = scene(seed=12)
    verdicts = judged_in_order([("kept", encode(image)), ("dark-copy", encode(dark(image)))])
    assert verdicts["kept"].kept
    assert verdicts["dark-copy"] == Verdict((Reason.DARK, Reason.NEAR_DUPLICATE), "kept")


def test_a_good_frame_is_never_dropped_for_looking_like_an_earlier_bad_one() -> None:
    image = scene(seed=13)
    verdicts = judged_in_order([("blurred", encode(blurred(image, 6))), ("sharp", encode(image))])
    assert verdicts["blurred"].reasons == (Reason.BLURRY,)
    assert verdicts["sharp"] == Verdict((), None)


def test_a_kept_frame_is_preferred_over_a_rejected_look_alike() -> None:
    image = scene(seed=14)
    verdicts = judged_in_order(
        [("dark-first", encode(dark(image))), ("kept", encode(image)), ("dark-again", encode(dark(image), quality=50))]
    )
    assert verdicts["kept"].kept
    assert verdicts["dark-again"].duplicate_of == "kept"


def test_corrupt_frames_are_not_compared() -> None:
    data = encode(scene(seed=15))
    verdicts = judged_in_order([("cut", data[: len(data) // 2]), ("cut-again", data[: len(data) // 2])])
    assert verdicts["cut"] == verdicts["cut-again"] == Verdict((Reason.CORRUPT,), None)
