"""Selection under a budget with a diversity constraint, and the priority parts."""

from __future__ import annotations

import numpy as np
import pytest

from framesift.services.curate import priority
from framesift.services.curate.selection import Budget, Candidate, RarityShare, select


def unit(vector) -> np.ndarray:
    vector = np.asarray(vector, dtype=np.float32)
    return vector / np.linalg.norm(vector)


def near_copies(center, count: int, spread: float, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [unit(center + rng.normal(scale=spread, size=len(center))) for _ in range(count)]


def candidate(frame_id, vector, priority_value, camera="cam-1", prior=2.0):
    return Candidate(frame_id, camera, priority_value, vector, prior)


def chosen(decisions) -> list[str]:
    return [d.frame_id for d in sorted((d for d in decisions if d.selected), key=lambda d: d.rank)]


def test_fifty_near_identical_high_priority_frames_do_not_eat_the_budget() -> None:
    rng = np.random.default_rng(0)
    parked = unit(rng.normal(size=64))
    copies = [candidate(f"parked-{i:02d}", v, 0.95) for i, v in enumerate(near_copies(parked, 50, 0.002, 1))]
    others = [candidate(f"scene-{i}", unit(rng.normal(size=64)), 0.5) for i in range(9)]
    decisions = select(copies + others, Budget(frames=10, per_camera=10), min_distance=0.02)
    picked = chosen(decisions)
    assert len(picked) == 10
    assert sum(name.startswith("parked") for name in picked) == 1
    assert picked[0].startswith("parked")  # the heaviest group (50 x 0.95) is served first
    skipped_copies = [d for d in decisions if d.frame_id.startswith("parked") and not d.selected]
    assert all(f"near copy of {picked[0]}" in d.reason for d in skipped_copies)


def test_the_budget_is_respected_exactly_and_the_camera_share_too() -> None:
    rng = np.random.default_rng(2)
    pool = [candidate(f"a-{i:02d}", unit(rng.normal(size=32)), 0.9, camera="a") for i in range(20)]
    pool += [candidate(f"b-{i:02d}", unit(rng.normal(size=32)), 0.1, camera="b") for i in range(20)]
    for frames in (0, 1, 7, 12):
        decisions = select(pool, Budget(frames=frames, per_camera=max(1, (frames + 1) // 2)), min_distance=0)
        picked = chosen(decisions)
        assert len(picked) == frames
        assert sum(p.startswith("a-") for p in picked) <= max(1, (frames + 1) // 2)
        assert len(decisions) == len(pool)  # every candidate gets a decision with a reason
        assert all(d.reason for d in decisions)


def test_ties_are_deterministic_whatever_the_input_order() -> None:
    rng = np.random.default_rng(3)
    pool = [candidate(f"f-{i:02d}", unit(rng.normal(size=16)), 0.5) for i in range(30)]
    first = chosen(select(pool, Budget(8, 8), min_distance=0.0))
    shuffled = [pool[i] for i in rng.permutation(len(pool))]
    assert chosen(select(shuffled, Budget(8, 8), min_distance=0.0)) == first


def test_frames_near_what_was_selected_before_the_window_lose_their_priority() -> None:
    rng = np.random.default_rng(4)
    seen = unit(rng.normal(size=16))
    again = candidate("again", near_copies(seen, 1, 0.001, 5)[0], 0.9, prior=0.001)
    fresh = candidate("fresh", unit(rng.normal(size=16)), 0.4)
    decisions = select([again, fresh], Budget(1, 1), min_distance=0.0)
    assert chosen(decisions) == ["fresh"]


def test_each_pick_makes_its_classes_less_rare_for_the_rest_of_the_window() -> None:
    # Three distinct views of a never-seen bicycle and one of a dog (seen twice before). Priority =
    # base + rarity's share x rarity. Frozen at the window's start, both bicycles would beat the
    # dog; counted as the window picks, the second bicycle is only half as rare and the dog wins.
    # The four views are orthogonal, so no pick stands for another and priority alone decides.
    views = iter(np.eye(4, dtype=np.float32))
    share = RarityShare(weight=0.5, counts={"dog": 2})

    def framed(frame_id, classes, base):
        rarity = max(1.0 / (1.0 + share.counts.get(name, 0)) for name in classes)
        return Candidate(
            frame_id,
            "cam-1",
            base + share.weight * rarity,
            next(views),
            2.0,
            classes=frozenset(classes),
            rarity=rarity,
        )

    pool = [framed("bike-1", ["bicycle", "car"], 0.3), framed("bike-2", ["bicycle"], 0.29)]
    pool += [framed("bike-3", ["bicycle"], 0.28), framed("dog-1", ["dog"], 0.4)]
    decisions = {d.frame_id: d for d in select(pool, Budget(2, 2), min_distance=0.0, rarity=share)}
    assert chosen(decisions.values()) == ["bike-1", "dog-1"]
    assert decisions["bike-2"].rarity == pytest.approx(0.5)  # one bicycle chosen in this window
    assert decisions["bike-2"].priority == pytest.approx(0.29 + 0.25)
    assert decisions["dog-1"].rarity == pytest.approx(1 / 3)  # unchanged: no dog chosen before it
    # Without the share the counts never move: the window's start decides (two bicycles).
    frozen = select(pool, Budget(2, 2), min_distance=0.0)
    assert chosen(frozen) == ["bike-1", "bike-2"]


def test_a_dense_group_is_served_before_an_outlier_and_the_outlier_next() -> None:
    # Twenty views around one scene and one odd frame, equal priorities. Farthest-first would
    # spend its first label on whatever is most out of the way; covering the window takes a
    # frame of the group first (it stands for twenty), then the outlier (the group is served).
    rng = np.random.default_rng(8)
    scene, odd = unit(rng.normal(size=32)), unit(rng.normal(size=32))
    group = [candidate(f"group-{i:02d}", v, 0.5) for i, v in enumerate(near_copies(scene, 20, 0.15, 9))]
    pool = [*group, candidate("a-odd", odd, 0.5)]  # the lowest id: it would win a tie
    picked = chosen(select(pool, Budget(2, 2), min_distance=0.0))
    assert picked[0].startswith("group-")
    assert picked[1] == "a-odd"


def greedy_by_hand(pool: list[Candidate], picks: int) -> list[str]:
    """The same objective, every gain recomputed every round: what the lazy heap must reproduce."""
    ordered = sorted(pool, key=lambda c: c.frame_id)
    vectors = np.stack([c.vector for c in ordered]).astype(np.float64)
    weight = np.array([c.priority for c in ordered])
    between = 1.0 - vectors @ vectors.T
    distance = np.array([c.prior_distance for c in ordered])
    out: list[str] = []
    for _ in range(picks):
        cost = (np.minimum(distance[None, :], between) * weight[None, :]).sum(axis=1)
        cost[[i for i, c in enumerate(ordered) if c.frame_id in out]] = np.inf
        best = int(np.argmin(cost))
        out.append(ordered[best].frame_id)
        distance = np.minimum(distance, between[best])
    return out


def test_the_lazy_greedy_takes_what_recomputing_every_gain_takes() -> None:
    rng = np.random.default_rng(10)
    centres = rng.normal(size=(6, 24))
    pool = [
        candidate(f"f-{i:02d}", unit(centres[i % 6] + rng.normal(scale=0.6, size=24)), float(rng.uniform(0.2, 1.0)),
                  prior=float(rng.choice([2.0, rng.uniform(0.1, 0.8)])))
        for i in range(60)
    ]  # fmt: skip
    assert chosen(select(pool, Budget(12, 12), min_distance=0.0)) == greedy_by_hand(pool, 12)


def test_a_large_window_served_through_a_sample_still_covers_every_group() -> None:
    rng = np.random.default_rng(11)
    centres = [unit(rng.normal(size=48)) for _ in range(10)]
    pool = [
        candidate(f"f-{i:04d}", v, 0.5)
        for i, v in enumerate(v for c in centres for v in near_copies(c, 80, 0.05, int(rng.integers(1 << 30))))
    ]
    # 800 candidates through a sample of 64: one pick per group, as with the whole window.
    for limit in (64, 4096):
        picked = chosen(select(pool, Budget(10, 10), min_distance=0.0, demand_limit=limit))
        groups = {int(name[2:]) // 80 for name in picked}
        assert groups == set(range(10)), limit


def test_uncertainty_peaks_at_the_threshold_and_says_why_when_zero() -> None:
    assert priority.uncertainty([0.5], 0.5, has_detector=True) == (1.0, None)
    assert priority.uncertainty([0.99, 0.52], 0.5, has_detector=True)[0] == pytest.approx(0.96)
    assert priority.uncertainty([1.0], 0.5, has_detector=True)[0] == pytest.approx(0.0)
    value, note = priority.uncertainty([], 0.5, has_detector=False)
    assert value == 0.0
    assert "no detector" in note
    assert "found nothing" in priority.uncertainty([], 0.5, has_detector=True)[1]


def test_rarity_is_the_rarest_classes_inverse_frequency() -> None:
    counts = {"car": 9, "person": 3}
    assert priority.rarity(["car"], counts, has_detector=True)[0] == pytest.approx(0.1)
    assert priority.rarity(["car", "bicycle"], counts, has_detector=True)[0] == 1.0
    assert priority.rarity([], counts, has_detector=True) == (0.0, "rarity is 0: no class detected")
    assert "no detector" in priority.rarity(["car"], counts, has_detector=False)[1]


def test_novelty_and_quality_stay_in_range() -> None:
    assert priority.novelty(None) == (1.0, "novelty is 1: nothing selected or labelled yet to compare with")
    assert priority.novelty(1.0)[0] == 0.0
    assert priority.novelty(-0.5)[0] == 1.0
    sharp = {"sharpness": 1.0, "exposure": 1.0, "contrast": 0.8}
    soft = {"sharpness": 0.1, "exposure": 0.3, "contrast": 0.2}
    assert priority.quality(sharp) > priority.quality(soft)
    assert 0.0 <= priority.quality(soft) <= 1.0
    assert priority.quality({}) == 0.0  # no margins published: nothing to rank by
    parts = priority.PriorityParts(1.0, 0.0, 0.5, 1.0)
    assert parts.total({"uncertainty": 1, "rarity": 1, "novelty": 1, "quality": 1}) == pytest.approx(0.625)
    assert parts.total({"uncertainty": 0, "rarity": 0, "novelty": 0, "quality": 0}) == 0.0
