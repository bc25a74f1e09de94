"""Choosing a window's frames: by priority, under a budget, spread over the embedding space.

Priority-weighted farthest-first (a k-center greedy): each round takes the candidate with the
highest priority x coverage, where coverage = d / (d + radius) and d is the cosine distance to
the nearest frame chosen so far (in this window or before it): half credit at `radius`, rising
towards 1 far from everything chosen, near 0 for a near copy of a chosen frame. So 50
near-identical high-priority frames yield one pick, not fifty; with equal priorities it is exactly
farthest-first (k-center greedy); within `min_distance` of a chosen frame a candidate is never
taken. Ties go to the earlier frame id, so the result is deterministic.

Rarity is kept current within the window too: each pick counts for the classes it shows, so the
second bicycle of a window is already less rare than the first (the novelty part needs no such
update: coverage already measures distance to this window's picks).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Candidate:
    frame_id: str
    camera_id: str
    priority: float
    vector: np.ndarray  # unit length
    prior_distance: float  # to the nearest frame selected or labelled before this window (2.0: none)
    prior_neighbour: str | None = None
    classes: frozenset[str] = field(default_factory=frozenset)  # detected classes (rarity)
    rarity: float = 0.0  # the rarity part inside `priority`, measured before this window


@dataclass(frozen=True)
class RarityShare:
    """Rarity's weight in the priority (its weight / the sum of weights) and the class counts of
    the frames chosen before this window: what keeps rarity current as the window picks."""

    weight: float
    counts: Mapping[str, int]


@dataclass(frozen=True)
class Decision:
    frame_id: str
    selected: bool
    reason: str
    rank: int | None = None  # order of choice, for selected frames
    nearest: str | None = None  # the chosen frame nearest to it when it was decided
    distance: float | None = None
    priority: float = 0.0  # the candidate's priority when it was decided
    rarity: float = 0.0  # its rarity part then


@dataclass(frozen=True)
class Budget:
    frames: int  # what this window may choose
    per_camera: int  # at most this many of one camera


def coverage(distance, radius: float):
    """How much of a candidate's priority counts at this distance from what is chosen (0..1)."""
    return distance / (distance + radius)


class _Rarities:
    """Each open candidate's rarity as the window's picks add to the class counts."""

    def __init__(self, ordered: list[Candidate], share: RarityShare | None) -> None:
        self.weight = share.weight if share else 0.0
        names = sorted({name for c in ordered for name in c.classes}) if self.weight > 0 else []
        self.column = {name: j for j, name in enumerate(names)}
        self.shows = np.zeros((len(ordered), len(names)), dtype=bool)  # candidate x class
        for i, c in enumerate(ordered):
            for name in c.classes:
                if name in self.column:
                    self.shows[i, self.column[name]] = True
        self.frames_with = np.ascontiguousarray(self.shows.T)  # class x candidate: one class's frames in a row
        self.counts = np.array([share.counts.get(name, 0) for name in names] if share else [], dtype=np.float64)
        # As priority.rarity: a frame is as rare as its rarest class, 1 / (1 + frames chosen with it).
        self.rarest = np.where(self.shows, self.counts, np.inf).min(axis=1, initial=np.inf)
        self.value = np.array([c.rarity for c in ordered], dtype=np.float64)

    def count(self, chosen: Candidate, priority: np.ndarray, open_: np.ndarray) -> None:
        """`chosen` was picked: its classes are less rare now; lower the open priorities that used them."""
        for name in chosen.classes:
            column = self.column.get(name)
            if column is None:
                continue
            # Counts only grow, so only frames whose rarest class this was can change.
            affected = open_ & self.frames_with[column] & (self.rarest == self.counts[column])
            self.counts[column] += 1
            if not affected.any():
                continue
            self.rarest[affected] = np.where(self.shows[affected], self.counts, np.inf).min(axis=1)
            now = 1.0 / (1.0 + self.rarest[affected])
            priority[affected] += self.weight * (now - self.value[affected])
            self.value[affected] = now


def select(
    candidates: list[Candidate],
    budget: Budget,
    *,
    radius: float,
    min_distance: float,
    rarity: RarityShare | None = None,
) -> list[Decision]:
    ordered = sorted(candidates, key=lambda c: c.frame_id)
    if not ordered:
        return []
    vectors = np.stack([c.vector for c in ordered]).astype(np.float32)
    priority = np.array([c.priority for c in ordered], dtype=np.float64)
    rarities = _Rarities(ordered, rarity)
    distance = np.array([c.prior_distance for c in ordered], dtype=np.float64)
    nearest_index = np.full(len(ordered), -1)  # the chosen candidate nearest to each; -1: a prior frame

    def nearest(i: int) -> str | None:
        return ordered[nearest_index[i]].frame_id if nearest_index[i] >= 0 else ordered[i].prior_neighbour

    open_ = np.ones(len(ordered), dtype=bool)
    per_camera: Counter[str] = Counter()
    decisions: dict[str, Decision] = {}

    while open_.any() and sum(per_camera.values()) < budget.frames:
        score = np.where(open_, priority * coverage(distance, radius), -np.inf)
        index = int(np.argmax(score))  # the first maximum: the lowest frame id among ties
        if score[index] == -np.inf:
            break
        chosen = ordered[index]
        open_[index] = False
        if per_camera[chosen.camera_id] >= budget.per_camera:
            decisions[chosen.frame_id] = Decision(
                chosen.frame_id,
                False,
                f"camera {chosen.camera_id} used its share ({budget.per_camera}) of the window",
                priority=float(priority[index]),
                rarity=float(rarities.value[index]),
            )
            continue
        per_camera[chosen.camera_id] += 1
        rank = sum(per_camera.values())
        decisions[chosen.frame_id] = Decision(
            chosen.frame_id,
            True,
            f"chosen #{rank} of the window: priority {priority[index]:.3f} x coverage "
            f"{coverage(distance[index], radius):.3f}",
            rank=rank,
            nearest=nearest(index),
            distance=float(distance[index]),
            priority=float(priority[index]),
            rarity=float(rarities.value[index]),
        )
        rarities.count(chosen, priority, open_)
        # Distances of the still open candidates to the newly chosen frame (cosine, unit vectors).
        to_chosen = 1.0 - vectors @ vectors[index]
        closer = to_chosen < distance
        distance = np.where(closer, to_chosen, distance)
        nearest_index[closer] = index
        too_close = open_ & (distance < min_distance)
        for i in np.flatnonzero(too_close):
            open_[i] = False
            decisions[ordered[i].frame_id] = Decision(
                ordered[i].frame_id,
                False,
                f"a near copy of {nearest(i)} (cosine distance {distance[i]:.3f} < {min_distance})",
                nearest=nearest(i),
                distance=float(distance[i]),
                priority=float(priority[i]),
                rarity=float(rarities.value[i]),
            )

    for i in np.flatnonzero(open_):
        decisions[ordered[i].frame_id] = Decision(
            ordered[i].frame_id,
            False,
            f"budget spent ({budget.frames} per window); priority x coverage "
            f"{priority[i] * coverage(distance[i], radius):.3f} was not among the best",
            nearest=nearest(i),
            distance=float(distance[i]),
            priority=float(priority[i]),
            rarity=float(rarities.value[i]),
        )
    return [decisions[c.frame_id] for c in candidates]
