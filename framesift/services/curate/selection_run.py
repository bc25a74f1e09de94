"""Choosing from a window once it is due: score its candidates, select under the budget, store the
decisions (claiming the window in the same transaction, so only one replica's choice lands), then
publish them through the outbox."""

from __future__ import annotations

import asyncio
import math
import time
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection

from framesift.contracts.vocabulary import Status

from . import priority, scoring
from .changes import announce
from .deps import CurateDeps
from .outbox import publish_outbox
from .selection import Budget, Candidate, RarityShare, select
from .tables import CuratedFrame, SelectionWindow
from .windows import first_open_window, is_due, open_windows, selected_on_day, watermark, window_state

FRAMES = CuratedFrame.__table__
WINDOWS = SelectionWindow.__table__


async def close_due_windows(deps: CurateDeps) -> list[str]:
    await publish_outbox(deps)  # selections stored before a crash go out first
    mark = await asyncio.to_thread(watermark, deps.engine)
    lateness = deps.settings.lateness_s
    due = await asyncio.to_thread(open_windows, deps.engine, lambda end: is_due(end, mark, lateness))
    return [window for window in due if await close_window(deps, window)]


async def close_idle_windows(deps: CurateDeps) -> list[str]:
    """Windows past their end (+ lateness) on the wall clock that no frame joined for
    `idle_close_s` (in this process; since its start for windows it has not seen)."""
    settings = deps.settings
    if not settings.idle_close_s:
        return []
    now, quiet_since = time.time(), time.monotonic() - settings.idle_close_s
    due = await asyncio.to_thread(open_windows, deps.engine, lambda end: end + settings.lateness_s <= now)
    idle = [w for w in due if deps.joined.get(w, deps.started) <= quiet_since]
    closed = [window for window in idle if await close_window(deps, window)]
    for window in closed:
        deps.joined.pop(window, None)
    return closed


async def close_idle_windows_forever(deps: CurateDeps) -> None:
    while True:
        await asyncio.sleep(max(0.05, min(30.0, deps.settings.idle_close_s / 4 or 30.0)))
        await close_idle_windows(deps)


async def flush(deps: CurateDeps) -> list[str]:
    """Choose from every open window now (end of a replay, a demo, an operator's request)."""
    due = await asyncio.to_thread(open_windows, deps.engine, lambda end: True)
    return [window for window in due if await close_window(deps, window)]


async def close_window(deps: CurateDeps, window: str) -> bool:
    async with deps.closing:
        state = await asyncio.to_thread(window_state, deps.engine, window)
        if state is None or state["closed"]:
            return False
        rows = await deps.read(lambda connection: _candidates(connection, window))
        budget, updates = await _decide(deps, rows, state)
        claimed = await asyncio.to_thread(_store_decisions, deps, state, updates, budget, len(rows))
    if claimed:
        deps.forget_chosen()
        deps.changed([row["frame_id"] for row in rows])
        await publish_outbox(deps)
    return claimed


async def _decide(deps: CurateDeps, rows: list[dict[str, Any]], state: dict[str, Any]):
    point_ids = [row["point_id"] for row in rows if row["point_id"]]
    vectors = await deps.vector_call(deps.vectors.vectors(point_ids))
    with_vectors = [row for row in rows if row["point_id"] in vectors]
    chosen = await deps.chosen(fresh=True)
    priors = await scoring.priors(deps, vectors, chosen)
    cameras = {row["camera_id"] for row in with_vectors}
    budget = await deps.read(lambda connection: _budget(deps, connection, state, cameras))

    weights = deps.weights
    candidates, parts_of = [], {}
    for row in with_vectors:
        prior = priors[row["point_id"]]
        detections = [(d["class"], d["score"]) for d in row["detections"]]
        parts = scoring.parts(
            deps,
            has_detector=bool(row["has_detector"]),
            detections=detections,
            margins=row["margins"] or {},
            prior=prior,
            chosen=chosen,
        )
        parts_of[row["frame_id"]] = parts
        candidates.append(
            Candidate(
                frame_id=row["frame_id"],
                camera_id=row["camera_id"],
                priority=parts.total(weights),
                vector=vectors[row["point_id"]],
                prior_distance=1.0 - prior[1] if prior else 2.0,
                prior_neighbour=prior[0] if prior else None,
                classes=frozenset(name for name, _ in detections),
                rarity=parts.rarity,
            )
        )
    # Seconds for a large window: off the event loop, so consumers and the APIs carry on.
    decisions = await asyncio.to_thread(
        select,
        candidates,
        budget,
        min_distance=deps.settings.min_distance,
        rarity=RarityShare(priority.share("rarity", weights), chosen.class_counts),
    )
    updates = []
    for decision in decisions:
        parts = parts_of[decision.frame_id]
        # Rarity and priority as they stood when the frame was decided (earlier picks count).
        updates.append(
            {
                "frame_id": decision.frame_id,
                "status": int(Status.SELECTED if decision.selected else Status.SKIPPED),
                "decision": decision.reason,
                "uncertainty": parts.uncertainty,
                "rarity": decision.rarity,
                "novelty": parts.novelty,
                "quality": parts.quality,
                "priority": decision.priority,
            }
        )
    for row in rows:
        if row["point_id"] not in vectors:
            updates.append(
                {
                    "frame_id": row["frame_id"],
                    "status": int(Status.SKIPPED),
                    "decision": "its vector is not in Qdrant (re-embed it to make it a candidate)",
                }
            )
    return budget, updates


def _candidates(connection: Connection, window: str) -> list[dict[str, Any]]:
    rows = connection.execute(
        sa.select(FRAMES)
        .where(FRAMES.c.window_id == window, FRAMES.c.status == int(Status.EMBEDDED))
        .order_by(FRAMES.c.frame_id)
    ).mappings()
    return [dict(row) for row in rows]


def _budget(deps: CurateDeps, connection: Connection, state: dict[str, Any], cameras: set[str]) -> Budget:
    settings = deps.settings
    used = selected_on_day(connection, state["start"])
    frames = max(0, min(settings.budget_per_window, settings.budget_per_day - int(used)))
    # One camera alone may use the whole window; with several, none takes more than its share.
    per_camera = frames if len(cameras) <= 1 else max(1, math.ceil(settings.camera_share * frames))
    return Budget(frames=frames, per_camera=per_camera)


def _store_decisions(
    deps: CurateDeps, state: dict[str, Any], updates: list[dict[str, Any]], budget: Budget, candidates: int
) -> bool:
    window = state["window_id"]
    with deps.engine.begin() as connection:
        claimed = connection.execute(
            WINDOWS.update()
            .where(WINDOWS.c.window_id == window, WINDOWS.c.closed.is_(False))
            .values(
                closed=True,
                budget=budget.frames,
                camera_cap=budget.per_camera,
                candidates=candidates,
                selected=sum(1 for u in updates if u["status"] == int(Status.SELECTED)),
            )
        ).rowcount
        if not claimed:
            return False  # another replica chose from this window first
        for update in updates:
            values = {k: v for k, v in update.items() if k != "frame_id"}
            connection.execute(
                FRAMES.update()
                .where(FRAMES.c.frame_id == update["frame_id"], FRAMES.c.status == int(Status.EMBEDDED))
                .values(**values)
            )
        moved = _move_stragglers(connection, state, [u["frame_id"] for u in updates], deps.settings.window_s)
        announce(connection, [update["frame_id"] for update in updates] + moved)
        return True


def _move_stragglers(connection: Connection, state: dict[str, Any], decided: list[str], window_s: float) -> list[str]:
    """Frames that joined the window after its candidates were read (another replica, a moment
    ago) move on to the next open window, so that none waits in a closed one forever."""
    stragglers = list(
        connection.execute(
            sa.select(FRAMES.c.frame_id).where(
                FRAMES.c.window_id == state["window_id"],
                FRAMES.c.status == int(Status.EMBEDDED),
                FRAMES.c.frame_id.not_in(decided) if decided else sa.true(),
            )
        ).scalars()
    )
    if stragglers:
        later = first_open_window(connection, state["end"], window_s)
        connection.execute(FRAMES.update().where(FRAMES.c.frame_id.in_(stragglers)).values(window_id=later))
    return stragglers
