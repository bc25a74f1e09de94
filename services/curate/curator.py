"""Curate's use cases: fold events into the read model, and choose from windows as they close.

SQL work runs in threads (the event loop keeps serving gRPC); window closing is serialised in a
process, and across replicas a window is claimed in the same transaction that stores its
decisions, so only one replica's choice lands. frames.selected goes out through an outbox: the
decision is stored first, then published and marked, so a crash in between republishes it.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import sqlalchemy as sa
from sqlalchemy import Engine

from framesift.bus.delivery import RetryableError
from framesift.bus.events import EventPublisher
from framesift.settings import CurateSettings
from framesift.v1 import frames_pb2, labels_pb2

from ..embed.backends.descriptor import NAME as DESCRIPTOR
from ..embed.vectors import FrameVectors, VectorStoreUnavailableError
from . import priority
from .changes import FrameChanges, announce, shared
from .chosen import ChosenVectors
from .messages import frame_ref, priority_parts
from .selection import Budget, Candidate, RarityShare, select
from .state import projection
from .state.models import CurateClock, CuratedFrame, SelectionWindow, Status
from .windows import day_of, is_due, window_of

FRAMES = CuratedFrame.__table__
WINDOWS = SelectionWindow.__table__
CLOCK = CurateClock.__table__
CHOSEN = (int(Status.SELECTED), int(Status.LABELLED))


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


def selected_on_day(connection, moment: float) -> int:
    """Frames chosen by the closed windows of the UTC day holding `moment` (the day budget's use)."""
    day_start, day_end = day_of(moment)
    return int(
        connection.execute(
            sa.select(sa.func.coalesce(sa.func.sum(WINDOWS.c.selected), 0)).where(
                WINDOWS.c.closed.is_(True), WINDOWS.c.start >= day_start, WINDOWS.c.start < day_end
            )
        ).scalar_one()
    )


def _read_watermark(connection) -> float | None:
    value = connection.execute(sa.select(CLOCK.c.watermark).where(CLOCK.c.name == "events")).scalar()
    return None if value is None else float(value)


def _window_closed(connection, window: str) -> bool | None:
    """Whether the window is closed; None when it does not exist yet."""
    return connection.execute(sa.select(WINDOWS.c.closed).where(WINDOWS.c.window_id == window)).scalar()


def has_detector(model: str | None) -> bool:
    return bool(model) and not str(model).startswith(f"{DESCRIPTOR}/")


@dataclass
class Curator:
    engine: Engine
    vectors: FrameVectors
    publisher: EventPublisher
    settings: CurateSettings
    blur_limit_px: float
    changes: FrameChanges = field(default_factory=FrameChanges)
    # Provisional scores at embedding time use a snapshot of the chosen set, refreshed when this
    # process chooses or labels and at least every `chosen_ttl_s` (other replicas' choices);
    # a window's final scores always read it fresh.
    chosen_ttl_s: float = 10.0
    chosen_vectors: ChosenVectors = field(default_factory=ChosenVectors, init=False, repr=False)
    _closing: asyncio.Lock = field(default_factory=asyncio.Lock, init=False, repr=False)
    _chosen: tuple[float, Chosen] | None = field(default=None, init=False, repr=False)
    _joined: dict[str, float] = field(default_factory=dict, init=False, repr=False)  # window -> monotonic
    _started: float = field(default_factory=time.monotonic, init=False, repr=False)

    async def chosen(self, *, fresh: bool = False) -> Chosen:
        now = time.monotonic()
        if fresh or self._chosen is None or now - self._chosen[0] > self.chosen_ttl_s:
            self._chosen = (now, await asyncio.to_thread(chosen_now, self.engine))
        return self._chosen[1]

    # -- events ---------------------------------------------------------------------------------

    async def on_ingested(self, event: frames_pb2.FrameIngested) -> None:
        await self._write(projection.apply_ingested, event)
        self._changed([event.frame_id])

    async def on_checked(self, event: frames_pb2.FrameChecked) -> None:
        await self._write(projection.apply_checked, event)
        self._changed([event.frame_id])

    async def on_rejected(self, event: frames_pb2.FrameRejected) -> None:
        await self._write(projection.apply_rejected, event)
        self._changed([event.frame_id])

    async def on_labelled(self, event: labels_pb2.LabelsCompleted) -> None:
        row = await asyncio.to_thread(self._row, event.frame_id)
        self._chosen = None
        if await self._write(projection.apply_labelled, event) and row and row["point_id"]:
            await self._vector_call(self.vectors.set_status([row["point_id"]], "labelled"))
        self._changed([event.frame_id])

    async def on_embedded(self, event: frames_pb2.FrameEmbedded) -> None:
        chosen = await self.chosen()
        vectors = await self._vector_call(self.vectors.vectors([event.point_id]))
        prior = (await self._prior(vectors, chosen)).get(event.point_id)
        parts = self._parts(
            f"{event.model_name}/{event.model_version}",
            [(d.class_name, float(d.score)) for d in event.detections],
            dict(event.metrics),
            prior,
            chosen,
        )
        captured = event.frame.captured_at.ToMicroseconds() / 1e6
        window = await asyncio.to_thread(self._join_window, captured)
        self._joined[window] = time.monotonic()
        await self._write(
            projection.apply_embedded,
            event,
            window=window,
            uncertainty=parts.uncertainty,
            rarity=parts.rarity,
            novelty=parts.novelty,
            quality=parts.quality,
            priority=parts.total(self.weights),
        )
        self._changed([event.frame_id])
        await self.close_due_windows()

    def _parts(
        self,
        model: str | None,
        detections: list[tuple[str, float]],
        metrics: dict[str, float],
        prior: tuple[str, float] | None,
        chosen: Chosen,
    ) -> priority.PriorityParts:
        detector = has_detector(model)
        return priority.PriorityParts(
            uncertainty=priority.uncertainty(
                [score for _, score in detections], self.settings.score_threshold, has_detector=detector
            )[0],
            rarity=priority.rarity([name for name, _ in detections], chosen.class_counts, has_detector=detector)[0],
            novelty=priority.novelty(prior[1] if prior else None)[0],
            quality=priority.quality(metrics, blur_limit_px=self.blur_limit_px),
        )

    @property
    def weights(self) -> dict[str, float]:
        return self.settings.weights.model_dump()

    # -- windows --------------------------------------------------------------------------------

    async def close_due_windows(self) -> list[str]:
        await self.publish_outbox()  # selections stored before a crash go out first
        watermark = await asyncio.to_thread(self._watermark)
        due = await asyncio.to_thread(self._open_windows, lambda end: is_due(end, watermark, self.settings.lateness_s))
        return [window for window in due if await self.close_window(window)]

    async def close_idle_windows(self) -> list[str]:
        """Windows past their end (+ lateness) on the wall clock that no frame joined for
        `idle_close_s` (in this process; since its start for windows it has not seen)."""
        if not self.settings.idle_close_s:
            return []
        now, quiet_since = time.time(), time.monotonic() - self.settings.idle_close_s
        due = await asyncio.to_thread(self._open_windows, lambda end: end + self.settings.lateness_s <= now)
        idle = [w for w in due if self._joined.get(w, self._started) <= quiet_since]
        closed = [window for window in idle if await self.close_window(window)]
        for window in closed:
            self._joined.pop(window, None)
        return closed

    async def close_idle_windows_forever(self) -> None:
        while True:
            await asyncio.sleep(max(0.05, min(30.0, self.settings.idle_close_s / 4 or 30.0)))
            await self.close_idle_windows()

    async def flush(self) -> list[str]:
        """Choose from every open window now (end of a replay, a demo, an operator's request)."""
        due = await asyncio.to_thread(self._open_windows, lambda end: True)
        return [window for window in due if await self.close_window(window)]

    async def close_window(self, window: str) -> bool:
        async with self._closing:
            state = await asyncio.to_thread(self._window_state, window)
            if state is None or state["closed"]:
                return False
            rows = await asyncio.to_thread(self._candidates, window)
            budget, updates = await self._decide(rows, state)
            claimed = await asyncio.to_thread(self._store_decisions, window, updates, budget, len(rows))
        if claimed:
            self._chosen = None
            self._changed([row["frame_id"] for row in rows])
            await self.publish_outbox()
        return claimed

    async def _decide(self, rows: list[dict[str, Any]], state: dict[str, Any]):
        point_ids = [row["point_id"] for row in rows if row["point_id"]]
        vectors = await self._vector_call(self.vectors.vectors(point_ids))
        with_vectors = [row for row in rows if row["point_id"] in vectors]
        chosen = await self.chosen(fresh=True)
        priors = await self._prior(vectors, chosen)
        budget = await asyncio.to_thread(self._budget, state, {row["camera_id"] for row in with_vectors})

        weights = self.weights
        candidates, parts_of = [], {}
        for row in with_vectors:
            prior = priors[row["point_id"]]
            detections = [(d["class"], d["score"]) for d in row["detections"]]
            parts = self._parts(row["model"], detections, row["metrics"], prior, chosen)
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
        decisions = select(
            candidates,
            budget,
            radius=self.settings.diversity_radius,
            min_distance=self.settings.min_distance,
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

    async def publish_outbox(self) -> int:
        """Publish every stored selection not yet published (after a crash, too)."""
        pending = await asyncio.to_thread(self._unpublished)
        await self._vector_call(
            self.vectors.set_status([row["point_id"] for row in pending if row["point_id"]], "selected")
        )
        for row in pending:
            await self.publisher.publish(selected_event(row))
            await asyncio.to_thread(self._mark_published, row["frame_id"])
        return len(pending)

    # -- helpers --------------------------------------------------------------------------------

    async def _prior(self, vectors: dict[str, np.ndarray], chosen: Chosen) -> dict[str, tuple[str, float] | None]:
        """For each point (id -> its vector): the nearest frame already selected or labelled, and
        its similarity; None when nothing is chosen yet."""
        if not vectors:
            return {}
        await self.chosen_vectors.sync(chosen.points, lambda ids: self._vector_call(self.vectors.vectors(ids)))
        known = list(vectors)
        found = self.chosen_vectors.nearest([vectors[pid] for pid in known], limit=1, exclude=set(known))
        return {pid: (hits[0] if hits else None) for pid, hits in zip(known, found, strict=True)}

    @staticmethod
    async def _vector_call(call):
        try:
            return await call
        except VectorStoreUnavailableError as exc:
            raise RetryableError(str(exc)) from exc

    async def _write(self, apply, event, **extra) -> Any:
        def run() -> Any:
            with self.engine.begin() as connection:
                result = apply(connection, event, **extra)
                announce(connection, [event.frame_id])
                return result

        return await asyncio.to_thread(run)

    def _changed(self, frame_ids: list[str]) -> None:
        """Tell this process's watchers; with PostgreSQL they hear it from the change feed."""
        if not shared(self.engine):
            self.changes.publish(frame_ids)

    def _row(self, frame_id: str) -> dict[str, Any] | None:
        with self.engine.connect() as connection:
            row = connection.execute(sa.select(FRAMES).where(FRAMES.c.frame_id == frame_id)).mappings().first()
            return dict(row) if row else None

    def _watermark(self) -> float:
        with self.engine.connect() as connection:
            return _read_watermark(connection) or 0.0

    def _join_window(self, captured_at: float) -> str:
        """The frame's window, advancing the watermark; a frame later than its closed window joins
        the first open window from the watermark's on instead of being lost."""
        with self.engine.begin() as connection:
            current = _read_watermark(connection)
            if current is None:
                try:
                    with connection.begin_nested():
                        connection.execute(CLOCK.insert().values(name="events", watermark=captured_at))
                except sa.exc.IntegrityError:
                    pass
            connection.execute(
                CLOCK.update()
                .where(CLOCK.c.name == "events", CLOCK.c.watermark < captured_at)
                .values(watermark=captured_at)
            )
            window, start, end = window_of(captured_at, self.settings.window_s)
            closed = _window_closed(connection, window)
            if closed:
                # Re-read: another replica may have moved it on since this transaction began.
                watermark = _read_watermark(connection) or 0.0
                window, start, end = window_of(max(captured_at, watermark, end), self.settings.window_s)
                closed = _window_closed(connection, window)
                # The watermark's window may be closed too (a flush, a quiet fleet): the next one open.
                while closed:
                    window, start, end = window_of(end, self.settings.window_s)
                    closed = _window_closed(connection, window)
            if closed is None:  # no such window yet
                try:
                    with connection.begin_nested():
                        connection.execute(
                            WINDOWS.insert().values(
                                window_id=window,
                                start=start,
                                end=end,
                                closed=False,
                                budget=0,
                                candidates=0,
                                selected=0,
                                camera_cap=0,
                            )
                        )
                except sa.exc.IntegrityError:
                    pass
            return window

    def _open_windows(self, due) -> list[str]:
        with self.engine.connect() as connection:
            rows = connection.execute(
                sa.select(WINDOWS.c.window_id, WINDOWS.c.end)
                .where(WINDOWS.c.closed.is_(False))
                .order_by(WINDOWS.c.start)
            ).all()
        return [window for window, end in rows if due(end)]

    def _window_state(self, window: str) -> dict[str, Any] | None:
        with self.engine.connect() as connection:
            row = connection.execute(sa.select(WINDOWS).where(WINDOWS.c.window_id == window)).mappings().first()
            return dict(row) if row else None

    def _candidates(self, window: str) -> list[dict[str, Any]]:
        with self.engine.connect() as connection:
            rows = connection.execute(
                sa.select(FRAMES)
                .where(FRAMES.c.window_id == window, FRAMES.c.status == int(Status.EMBEDDED))
                .order_by(FRAMES.c.frame_id)
            ).mappings()
            return [dict(row) for row in rows]

    def _budget(self, state: dict[str, Any], cameras: set[str]) -> Budget:
        with self.engine.connect() as connection:
            used = selected_on_day(connection, state["start"])
        frames = max(0, min(self.settings.budget_per_window, self.settings.budget_per_day - int(used)))
        # One camera alone may use the whole window; with several, none takes more than its share.
        per_camera = frames if len(cameras) <= 1 else max(1, math.ceil(self.settings.camera_share * frames))
        return Budget(frames=frames, per_camera=per_camera)

    def _store_decisions(self, window: str, updates: list[dict[str, Any]], budget: Budget, candidates: int) -> bool:
        with self.engine.begin() as connection:
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
            announce(connection, [update["frame_id"] for update in updates])
            return True

    def _unpublished(self) -> list[dict[str, Any]]:
        with self.engine.connect() as connection:
            rows = connection.execute(
                sa.select(FRAMES)
                .where(FRAMES.c.status >= int(Status.SELECTED), FRAMES.c.window_id.is_not(None))
                .where(FRAMES.c.published.is_(False), FRAMES.c.decision.is_not(None))
                .order_by(FRAMES.c.window_id, FRAMES.c.frame_id)
            ).mappings()
            return [dict(row) for row in rows]

    def _mark_published(self, frame_id: str) -> None:
        with self.engine.begin() as connection:
            connection.execute(FRAMES.update().where(FRAMES.c.frame_id == frame_id).values(published=True))


def selected_event(row: dict[str, Any]) -> frames_pb2.FrameSelected:
    return frames_pb2.FrameSelected(
        frame_id=row["frame_id"],
        camera_id=row["camera_id"],
        frame=frame_ref(row),
        priority=priority_parts(row),
        selection_batch=row["window_id"] or "",
    )
