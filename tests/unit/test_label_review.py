"""Review sampling: deterministic draws, overrides, the always-reviewed rules, adaptive rates, and
the Wilson interval of the reviewed error rate."""

from __future__ import annotations

import uuid

import pytest

from framesift.services.label import review
from framesift.services.label.settings import ReviewSettings

SEASONED = review.History(
    labeller_tasks=500, labeller_reviews=50, class_reviews={"car": 50, "person": 50}, labeller_random=0,
    labeller_random_errors=0,
)  # fmt: skip


def decide(settings: ReviewSettings, task_id: str, history: review.History = SEASONED, **given):
    facts = {"camera": "cam-1", "labeller": "ann", "classes": ["car"], "flags": []} | given
    return review.reason(settings, task_id=task_id, history=history, **facts)


def test_the_draw_is_fixed_by_task_and_seed_and_the_share_sampled_is_the_rate() -> None:
    ids = [str(uuid.UUID(int=i)) for i in range(20_000)]
    settings = ReviewSettings(rate=0.1)
    first = [decide(settings, t)[0] for t in ids]
    assert first == [decide(settings, t)[0] for t in ids]  # a replay picks the same tasks
    share = sum(r == review.SAMPLED for r in first) / len(ids)
    assert share == pytest.approx(0.1, abs=0.01)  # sha-256 draws are uniform; 20 000 of them: +-0.0021 s.d.
    other = [decide(ReviewSettings(rate=0.1, seed="other"), t)[0] for t in ids]
    assert other != first


def test_the_highest_applicable_override_wins_and_says_so() -> None:
    settings = ReviewSettings(rate=0.1, camera_rates={"cam-1": 0.3}, class_rates={"person": 0.6})
    assert review.base_rate(settings, camera="cam-2", classes=["car"], labeller="ann").value == 0.1
    assert review.base_rate(settings, camera="cam-1", classes=["car"], labeller="ann").value == 0.3
    rate = review.base_rate(settings, camera="cam-1", classes=["car", "person"], labeller="ann")
    assert (rate.value, rate.why) == (0.6, "class person 0.6")
    lowered = ReviewSettings(rate=0.1, labeller_rates={"ann": 0.05})
    assert review.base_rate(lowered, camera="cam-1", classes=[], labeller="ann").value == 0.05


def test_always_reviewed_qa_flags_then_new_labellers_then_thin_strata() -> None:
    settings = ReviewSettings(rate=0.0, new_labeller_tasks=3, min_per_stratum=2)
    assert decide(settings, "t", flags=["missing_object"])[0] == review.QA
    new = review.History(2, 0, {}, 0, 0)
    assert decide(settings, "t", history=new)[0] == review.NEW_LABELLER
    thin_labeller = review.History(3, 1, {"car": 9}, 0, 0)
    assert decide(settings, "t", history=thin_labeller)[0] == review.STRATUM
    thin_class = review.History(3, 9, {"car": 9, "bus": 1}, 0, 0)
    reason, why = decide(settings, "t", history=thin_class, classes=["car", "bus"])
    assert (reason, why) == (review.STRATUM, "class bus has 1 of 2 reviews")
    assert decide(settings, "t")[0] is None  # rate 0 and every stratum full: not reviewed


def test_a_rising_error_rate_raises_the_rate_within_bounds_and_a_falling_one_lowers_it() -> None:
    settings = ReviewSettings(rate=0.1, adaptive_after=10, target_error=0.05, min_rate=0.04, max_rate=0.15)
    base = review.Rate(0.1, "project 0.1")
    poor = review.History(100, 20, {}, labeller_random=20, labeller_random_errors=4)
    good = review.History(100, 20, {}, labeller_random=20, labeller_random_errors=0)
    middling = review.History(100, 20, {}, labeller_random=20, labeller_random_errors=1)
    few = review.History(100, 20, {}, labeller_random=5, labeller_random_errors=5)
    raised = review.adapted(base, settings, poor)
    assert raised.value == 0.15  # doubled, capped at max_rate
    assert "error rate 0.20 > 0.05" in raised.why
    assert review.adapted(base, settings, good).value == pytest.approx(0.05)
    assert review.adapted(review.Rate(0.05, ""), settings, good).value == 0.04  # halved, floored
    assert review.adapted(base, settings, middling) == base  # 0.05: within the band
    assert review.adapted(base, settings, few) == base  # too few random reviews to say
    assert review.adapted(base, settings.model_copy(update={"adaptive": False}), poor) == base


def test_the_error_rate_interval_is_wilsons() -> None:
    # Wilson's score interval: 0 of 10 has upper bound z^2 / (n + z^2) = 3.8415 / 13.8415.
    none = review.error_rate(0, 10)
    assert (none.rate, none.low) == (0.0, 0.0)
    assert none.high == pytest.approx(1.959964**2 / (10 + 1.959964**2), rel=1e-4)
    # 5 of 100: the textbook (Newcombe 1998) interval 0.0215 - 0.1118.
    some = review.error_rate(5, 100)
    assert (round(some.low, 4), round(some.high, 4)) == (0.0215, 0.1118)
    assert review.error_rate(0, 0) is None
