"""The vectors of every frame selected or labelled, held in memory: what novelty is measured against.

Asking Qdrant for "the nearest among the chosen frames" needs a filter, and filters cost per
point and per id: a has_id condition carries every chosen id in every request (36 bytes each,
once per query of a batch), and local mode evaluates a filter point by point in Python (about
0.2 s per query over 20 k points). A matrix product over the chosen vectors costs microseconds.
The matrix is filled once per process by retrieving the vectors by id (cheap in both modes), then
only newly chosen points are fetched; which frames are chosen always comes from SQL, so a
rebuild from the topics gives the same answers.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

import numpy as np
import sqlalchemy as sa
from sqlalchemy import Engine

from framesift.contracts.vocabulary import Status

from .tables import CuratedFrame

FRAMES = CuratedFrame.__table__
CHOSEN = (int(Status.SELECTED), int(Status.LABELLED))

Fetch = Callable[[list[str]], Awaitable[Mapping[str, np.ndarray]]]


# Similarities computed at once, at most (queries x chosen): bounds memory for big windows.
_BLOCK = 1 << 22


class ChosenVectors:
    def __init__(self) -> None:
        self._points: list[str] = []  # row -> point id
        self._frames = np.array([], dtype=str)  # row -> frame id
        self._matrix: np.ndarray | None = None  # rows of unit vectors
        self._synced: Mapping[str, str] | None = None
        self._syncing = asyncio.Lock()  # concurrent handlers: one fetch per new point, no duplicate rows

    def __len__(self) -> int:
        return len(self._points)

    async def sync(self, chosen: Mapping[str, str], fetch: Fetch) -> None:
        """Hold exactly the vectors of `chosen` (point id -> frame id); fetch only what is new."""
        async with self._syncing:
            await self._sync(chosen, fetch)

    async def _sync(self, chosen: Mapping[str, str], fetch: Fetch) -> None:
        if chosen is self._synced:
            return
        if not all(point in chosen for point in self._points):  # never while statuses only move forward
            self._keep([row for row, point in enumerate(self._points) if point in chosen])
        held = set(self._points)
        missing = sorted(point for point in chosen if point not in held)
        found = await fetch(missing) if missing else {}
        new = [point for point in missing if point in found]  # a point Qdrant lacks has no distance
        if new:
            rows = np.stack([_unit(found[point]) for point in new])
            self._matrix = rows if self._matrix is None else np.concatenate([self._matrix, rows])
            self._points.extend(new)
            self._frames = np.concatenate([self._frames, np.array([chosen[point] for point in new], dtype=str)])
        self._synced = chosen

    def nearest(
        self, queries: list[np.ndarray], *, limit: int, exclude: set[str] | frozenset[str] = frozenset()
    ) -> list[list[tuple[str, float]]]:
        """For each query, the `limit` nearest chosen frames as (frame id, cosine similarity), best
        first; equal similarities go to the lower frame id, so the answer never depends on the
        order the vectors were fetched in."""
        if self._matrix is None or not queries or limit < 1:
            return [[] for _ in queries]
        usable = np.array([point not in exclude for point in self._points])
        out: list[list[tuple[str, float]]] = []
        step = max(1, _BLOCK // len(self._points))
        for start in range(0, len(queries), step):
            block = np.stack([_unit(q) for q in queries[start : start + step]]) @ self._matrix.T
            out.extend(self._best(np.where(usable, row, -np.inf), limit) for row in block)
        return out

    def _best(self, similarity: np.ndarray, limit: int) -> list[tuple[str, float]]:
        if limit < len(similarity):
            # Everything at least as similar as the limit-th best, so ties at the edge are all seen.
            edge = np.partition(similarity, len(similarity) - limit)[len(similarity) - limit]
            rows = np.flatnonzero(similarity >= edge)
        else:
            rows = np.arange(len(similarity))
        rows = rows[np.isfinite(similarity[rows])]
        order = rows[np.lexsort((self._frames[rows], -similarity[rows]))][:limit]  # similarity, then frame id
        return [(str(self._frames[i]), float(similarity[i])) for i in order]

    def _keep(self, rows: list[int]) -> None:
        self._points = [self._points[row] for row in rows]
        self._frames = self._frames[rows]
        self._matrix = self._matrix[rows] if rows and self._matrix is not None else None


def _unit(vector: np.ndarray) -> np.ndarray:
    vector = np.asarray(vector, dtype=np.float32)
    norm = float(np.linalg.norm(vector))
    return vector / norm if norm else vector


@dataclass(frozen=True)
class Chosen:
    """What has been selected or labelled so far: what novelty and rarity are measured against."""

    points: dict[str, str]  # point id -> frame id
    class_counts: Counter[str]


def chosen_now(engine: Engine) -> Chosen:
    with engine.connect() as connection:
        rows = connection.execute(
            sa.select(FRAMES.c.point_id, FRAMES.c.frame_id, FRAMES.c.classes).where(FRAMES.c.status.in_(CHOSEN))
        ).all()
    counts: Counter[str] = Counter()
    for _, _, classes in rows:
        counts.update(filter(None, classes.split(",")))
    return Chosen({point: frame for point, frame, _ in rows if point}, counts)
