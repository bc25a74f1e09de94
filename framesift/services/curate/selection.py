"""Choosing a window's frames: by priority, under a budget, spread over the embedding space.

Priority-weighted facility location (greedy k-median): the window's cost is the sum over its
frames of priority x cosine distance to the nearest frame chosen so far (in this window or
before it), and each round takes the candidate that lowers that cost the most. A pick pays for
itself (its own priority x its distance to what is chosen) and for the frames it stands for
(every frame it is nearer to than the chosen ones were). So a dense region of high-priority
frames gets a pick before an outlier does, and then no more until its frames are served; 50
near-identical high-priority frames yield one pick, not fifty; within `min_distance` of a chosen
frame a candidate is never taken. Farthest-first (k-center) was the rule before: it spends a
small budget on outliers first, which is why typical-then-diverse choice labels better at the
budgets curate works with (README, "Selection").

Large windows are served through a fixed sample of at most `DEMAND_LIMIT` frames (every n-th
frame id), scaled to the window, so the cost of a round stays bounded; each candidate's own term
is exact. Gains only fall as frames are chosen (and rarity only lowers priorities), so a lazy
greedy re-evaluates only the candidates at the top of a heap of stale gains. Ties go to the
earlier frame id, so the result is deterministic.

Rarity is kept current within the window too: each pick counts for the classes it shows, so the
second bicycle of a window is already less rare than the first (the novelty part needs no such
update: the distances already measure this window's picks).
"""

from __future__ import annotations

import heapq
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


# Beyond this many candidates a window is served through a sample of this many frames (memory and
# time per round bounded; the sample's sum is scaled to the window).
DEMAND_LIMIT = 2048
# Candidates whose exact gains are computed in one matrix product (bounds memory: x DEMAND_LIMIT).
_BLOCK = 1024
# Stale gains recomputed at once when the heap's top is stale, doubled while it stays stale.
_FIRST_BATCH = 4


class _Demand:
    """The frames a pick is judged to stand for: all of the window's, or an every-n-th sample."""

    def __init__(self, vectors: np.ndarray, limit: int) -> None:
        self.step = -(-len(vectors) // limit)  # ceil: 1 keeps every frame
        self.at = np.arange(0, len(vectors), self.step)
        self.vectors = vectors[self.at]
        self.scale = len(vectors) / len(self.at)

    def gains(self, rows: np.ndarray, vectors: np.ndarray, priority: np.ndarray, distance: np.ndarray) -> np.ndarray:
        """For candidates `rows`: own priority x distance to the chosen, plus the priority-weighted
        distance they would take off the (sampled, scaled) window's frames."""
        # d_j - d_ij = s_ij - (1 - d_j): similarities less the demand's similarity to its nearest
        # chosen, in place and in float32 (the products are the time a round takes).
        taken_off = vectors[rows] @ self.vectors.T
        taken_off -= (1.0 - distance[self.at]).astype(np.float32)
        np.maximum(taken_off, 0.0, out=taken_off)
        # A candidate in the sample is there already: count it once, as its own term.
        sampled = np.flatnonzero(rows % self.step == 0)
        taken_off[sampled, rows[sampled] // self.step] = 0.0
        served = taken_off @ priority[self.at].astype(np.float32)
        return priority[rows] * distance[rows] + self.scale * served.astype(np.float64)


def select(
    candidates: list[Candidate],
    budget: Budget,
    *,
    min_distance: float,
    rarity: RarityShare | None = None,
    demand_limit: int = DEMAND_LIMIT,
) -> list[Decision]:
    ordered = sorted(candidates, key=lambda c: c.frame_id)
    if not ordered:
        return []
    vectors = np.stack([c.vector for c in ordered]).astype(np.float32)
    priority = np.array([c.priority for c in ordered], dtype=np.float64)
    rarities = _Rarities(ordered, rarity)
    # Each candidate's cosine distance to the nearest chosen frame (2.0, the most: none yet).
    distance = np.array([min(c.prior_distance, 2.0) for c in ordered], dtype=np.float64)
    nearest_index = np.full(len(ordered), -1)  # the chosen candidate nearest to each; -1: a prior frame
    demand = _Demand(vectors, demand_limit)

    def nearest(i: int) -> str | None:
        return ordered[nearest_index[i]].frame_id if nearest_index[i] >= 0 else ordered[i].prior_neighbour

    def gains(rows: np.ndarray) -> np.ndarray:
        return np.concatenate(
            [demand.gains(rows[s : s + _BLOCK], vectors, priority, distance) for s in range(0, len(rows), _BLOCK)]
        )

    open_ = np.ones(len(ordered), dtype=bool)
    per_camera: Counter[str] = Counter()
    decisions: dict[str, Decision] = {}
    # Lazy greedy: (-gain, index, picks made when it was computed). Gains only fall as frames are
    # chosen, so a gain computed at the current round that tops the heap is the round's best.
    heap = [(-gain, i, 0) for i, gain in enumerate(gains(np.arange(len(ordered))).tolist())]
    heapq.heapify(heap)
    picks = 0
    batch = _FIRST_BATCH

    while heap and picks < budget.frames:
        negative, index, computed_at = heapq.heappop(heap)
        if not open_[index]:
            continue
        if computed_at != picks:
            # Stale: recompute it and the next stale ones at the top in one product, twice as many
            # each time the top is stale again this round (a pick can lower every gain at once).
            stale = [index]
            while heap and len(stale) < batch and heap[0][2] != picks:
                _, other, _ = heapq.heappop(heap)
                if open_[other]:
                    stale.append(other)
            for gain, i in zip(gains(np.array(stale)).tolist(), stale, strict=True):
                heapq.heappush(heap, (-gain, i, picks))
            batch *= 2
            continue
        batch = _FIRST_BATCH
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
        picks += 1
        decisions[chosen.frame_id] = Decision(
            chosen.frame_id,
            True,
            f"chosen #{picks} of the window: priority {priority[index]:.3f}, distance {distance[index]:.3f} "
            f"to the nearest chosen; takes {-negative:.3f} off the window's priority-weighted distance",
            rank=picks,
            nearest=nearest(index),
            distance=float(distance[index]),
            priority=float(priority[index]),
            rarity=float(rarities.value[index]),
        )
        rarities.count(chosen, priority, open_)
        # Distances of every frame (open or not: they are all the window's) to the newly chosen one.
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
            f"budget spent ({budget.frames} per window); priority {priority[i]:.3f}, distance "
            f"{distance[i]:.3f} to the nearest chosen ({nearest(i) or 'none'})",
            nearest=nearest(i),
            distance=float(distance[i]),
            priority=float(priority[i]),
            rarity=float(rarities.value[i]),
        )
    return [decisions[c.frame_id] for c in candidates]
