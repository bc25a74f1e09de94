"""The CurationService's operations, shared by gRPC and HTTP: read model + Qdrant -> protos."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from datetime import UTC, datetime
from typing import Any

import numpy as np
import sqlalchemy as sa
from sqlalchemy import Connection, Engine

from framesift.contracts.query import Query, QueryError, parse
from framesift.contracts.vocabulary import Reason, Status, frame_ref, timestamp
from framesift.inference.backends.base import EmbeddingBackend, TextSearchUnavailableError, close_backend
from framesift.inference.preprocess import UndecodableFrameError, prepare
from framesift.platform.operators import OperatorToken
from framesift.services.curate.settings import CurateSettings
from framesift.v1 import curation_pb2
from framesift.vectors.qdrant import FrameVectors, VectorStoreUnavailableError

from . import priority
from .changes import FrameChanges
from .chosen import CHOSEN, ChosenVectors, chosen_now
from .images import FrameImage, FrameImages, ImageMissingError, ImageUnavailableError
from .messages import detection, priority_parts
from .query import sql
from .query.counts import frame_counts
from .query.ids import NotFoundError, frame_row, resolve_query_ids
from .tables import CuratedFrame, SelectionWindow
from .windows import selected_on_day, window_span

FRAMES = CuratedFrame.__table__
WINDOWS = SelectionWindow.__table__
MAX_PAGE = 1000
DEFAULT_PAGE = 50
DEFAULT_LIMIT = 10  # hits of a similarity or text search
TEXT_CANDIDATES = 1000  # a quoted text in QueryFrames narrows to this many nearest frames first


class UnavailableError(RuntimeError):
    """A dependency (Qdrant) cannot answer now."""


class CurationApi:
    def __init__(
        self,
        engine: Engine,
        vectors: FrameVectors,
        settings: CurateSettings,
        changes: FrameChanges,
        backend: Callable[[], EmbeddingBackend],
        *,
        flush: Callable[[], Awaitable[list[str]]] | None = None,
        operator: OperatorToken | None = None,
        images: FrameImages | None = None,
    ) -> None:
        self.engine = engine
        self.vectors = vectors
        self.settings = settings
        self.changes = changes
        self._backend_factory = backend
        self._backend: EmbeddingBackend | None = None
        self._chosen_vectors = ChosenVectors()  # Explain's neighbours among the chosen frames
        self._flush = flush
        self._operator = operator or OperatorToken(None)
        self._images = images

    @property
    def backend(self) -> EmbeddingBackend:
        """The embedding model for uploaded images and texts (built on first use)."""
        if self._backend is None:
            self._backend = self._backend_factory()
        return self._backend

    async def close(self) -> None:
        await close_backend(self._backend)

    # -- reads ----------------------------------------------------------------------------------

    async def get_frame(self, frame_id: str) -> curation_pb2.FrameRecord:
        return record(await self._frame_row(frame_id), self.settings.lateness_s)

    async def query_frames(self, text: str, page_size: int, page_token: str) -> curation_pb2.QueryFramesResponse:
        query = await self._parse(text)
        size = _page_size(page_size)
        frame_ids = await self._text_candidates(query)
        statement = sql.page(query, page_size=size, page_token=page_token, frame_ids=frame_ids)
        rows = await asyncio.to_thread(self._execute, statement)
        more = len(rows) > size
        rows = rows[:size]
        return curation_pb2.QueryFramesResponse(
            frames=[record(row, self.settings.lateness_s) for row in rows],
            next_page_token=sql.next_token(query, rows[-1]) if more else "",
        )

    async def _text_candidates(self, query: Query) -> list[str] | None:
        """A quoted text narrows the query to the frames nearest to it (None: no text)."""
        if query.text is None:
            return None
        hits = await self._nearest_to(await self._text_vector(query.text), TEXT_CANDIDATES, query)
        return [frame_id for frame_id, _ in hits]

    async def count_frames(self, text: str) -> curation_pb2.FrameCounts:
        query = await self._parse(text)
        frame_ids = await self._text_candidates(query)

        def count() -> curation_pb2.FrameCounts:
            with self.engine.connect() as connection:
                return frame_counts(connection, query, frame_ids)

        return await asyncio.to_thread(count)

    async def search_similar(
        self, *, frame_id: str | None, image: bytes | None, limit: int, text: str
    ) -> curation_pb2.SearchResponse:
        query = await self._parse(text)
        exclude = None
        if frame_id:
            row = await self._frame_row(frame_id)
            if not row["point_id"]:
                raise QueryError(f"frame {row['frame_id']!r} has no vector yet (status {Status(row['status']).label})")
            vectors = await self._vector_call(self.vectors.vectors([row["point_id"]]))
            if row["point_id"] not in vectors:
                raise NotFoundError(f"frame {row['frame_id']!r}'s vector is not in Qdrant")
            vector, exclude = vectors[row["point_id"]], [row["point_id"]]
        elif image:
            vector = await self._image_vector(image)
        else:
            raise QueryError("give a frame_id or an image")
        hits = await self._nearest_to(vector, _limit(limit), query, exclude=exclude)
        return await self._search_response(hits)

    async def search_text(self, text: str, limit: int, filters: str) -> curation_pb2.SearchResponse:
        if not text.strip():
            raise QueryError("text is empty")
        query = await self._parse(filters)
        hits = await self._nearest_to(await self._text_vector(text), _limit(limit), query)
        return await self._search_response(hits)

    async def frame_image(self, frame_id: str, *, thumbnail: int | None = None) -> FrameImage:
        """The frame's bytes as stored, or a JPEG thumbnail of it (long side `thumbnail` px)."""
        if self._images is None:
            raise UnavailableError("this process has no object store for images")
        row = await self._frame_row(frame_id)
        try:
            if thumbnail is None:
                return await self._images.original(row["object_key"])
            return await self._images.thumbnail(row["object_key"], thumbnail)
        except ImageMissingError as exc:
            raise NotFoundError(f"frame {row['frame_id']!r}: {exc}") from exc
        except ValueError as exc:
            raise QueryError(str(exc)) from exc
        except ImageUnavailableError as exc:
            raise UnavailableError(str(exc)) from exc

    async def flush_windows(self, authorization: str | None) -> curation_pb2.FlushWindowsResponse:
        """Choose from every open window now; an operator's write action."""
        self._operator.check(authorization)
        if self._flush is None:
            raise UnavailableError("this process does not run curate's selection")
        windows = await self._flush()

        def decided() -> int:
            with self.engine.connect() as connection:
                return int(
                    connection.execute(
                        sa.select(sa.func.coalesce(sa.func.sum(WINDOWS.c.candidates), 0)).where(
                            WINDOWS.c.window_id.in_(windows)
                        )
                    ).scalar_one()
                )

        return curation_pb2.FlushWindowsResponse(windows=windows, frames_decided=await asyncio.to_thread(decided))

    async def stats(self) -> curation_pb2.CurationStats:
        return await asyncio.to_thread(curation_stats, self.engine, self.settings)

    async def explain(self, frame_id: str) -> curation_pb2.Explanation:
        row = await self._frame_row(frame_id)
        explanation = curation_pb2.Explanation(
            record=record(row, self.settings.lateness_s), weights=self.settings.weights.model_dump()
        )
        explanation.notes.extend(self._notes(row))
        if row["point_id"]:
            vectors = await self._vector_call(self.vectors.vectors([row["point_id"]]))
            if row["point_id"] in vectors:
                chosen = await asyncio.to_thread(chosen_now, self.engine)
                await self._chosen_vectors.sync(chosen.points, lambda ids: self._vector_call(self.vectors.vectors(ids)))
                [hits] = self._chosen_vectors.nearest(
                    [vectors[row["point_id"]]], limit=self.settings.neighbours, exclude={row["point_id"]}
                )
                statuses = await asyncio.to_thread(self._statuses, [frame for frame, _ in hits])
                explanation.neighbours.extend(
                    curation_pb2.Neighbour(frame_id=f, similarity=s, status=_status_proto(statuses.get(f)))
                    for f, s in hits
                )
        if row["window_id"]:
            budget = await asyncio.to_thread(self._budget_state, row)
            if budget is not None:
                explanation.budget.CopyFrom(budget)
        return explanation

    def watch(self, text: str) -> AsyncIterator[curation_pb2.FrameRecord]:
        """Changed frames matching the query's filters, from now on (the query is checked at once)."""
        query = parse(text)
        if query.text is not None or query.sort_given:
            raise QueryError("WatchFrames takes filters only (no sort, no quoted text)")
        return self._changes_matching(query)

    async def _changes_matching(self, query: Query) -> AsyncIterator[curation_pb2.FrameRecord]:
        async for frame_id in self.changes.watch():
            rows = await asyncio.to_thread(self._rows, sql.conditions(query, frame_ids=[frame_id]))
            for row in rows:
                yield record(row, self.settings.lateness_s)

    # -- helpers --------------------------------------------------------------------------------

    async def _frame_row(self, given: str) -> dict[str, Any]:
        """The frame `given` names: its id or a unique prefix (NOT_FOUND, or an ambiguity error)."""

        def find() -> dict[str, Any]:
            with self.engine.connect() as connection:
                return frame_row(connection, given)

        return await asyncio.to_thread(find)

    async def _parse(self, text: str) -> Query:
        """The query, with `id:` prefixes resolved to the frames they name."""
        query = parse(text)
        if not query.frame_ids:
            return query

        def resolve() -> Query:
            with self.engine.connect() as connection:
                return resolve_query_ids(connection, query)

        return await asyncio.to_thread(resolve)

    def _notes(self, row: dict[str, Any]) -> list[str]:
        notes = []
        if row["model"] and not row["has_detector"]:
            notes.append(priority.uncertainty([], 0.5, has_detector=False)[1] or "")
            notes.append(priority.rarity([], {}, has_detector=False)[1] or "")
        elif row["model"] and not row["detections"]:
            notes.append("uncertainty and rarity are 0: the detector found nothing")
        if row["failure"]:
            notes.append(f"failed: {row['failure']} (framesift dlq list, then replay once fixed)")
        if row["decision"]:
            notes.append(f"decision: {row['decision']}")
        elif row["status"] == int(Status.EMBEDDED):
            notes.append(self._waiting_note(row["window_id"]))
        elif row["status"] < int(Status.EMBEDDED):
            notes.append(f"not a candidate: status {Status(row['status']).label}")
        return notes

    def _waiting_note(self, window: str) -> str:
        span = window_span(window)
        if span is None:
            return f"waiting for its window {window} to close (priority parts are provisional)"
        start, end = span
        due = end + self.settings.lateness_s

        def clock(moment: float) -> str:
            return datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")

        quiet = (
            f"; if the camera goes quiet, {self.settings.idle_close_s:g} s after the window's last frame"
            if self.settings.idle_close_s
            else ""
        )
        return (
            f"waiting for its window {window} ({clock(start)} to {clock(end)}) to close: due at {clock(due)}, "
            f"once frames captured after then arrive{quiet}; `framesift curate flush` decides it now "
            "(priority parts are provisional)"
        )

    async def _text_vector(self, text: str) -> np.ndarray:
        try:
            return await self.backend.embed_text(text)
        except TextSearchUnavailableError:
            raise
        except Exception as exc:  # the model server: retried by the backend already
            raise UnavailableError(f"text encoder unavailable: {exc}") from exc

    async def _image_vector(self, image: bytes) -> np.ndarray:
        backend = self.backend
        try:
            prepared = await asyncio.to_thread(prepare, image, backend.input_size)
        except UndecodableFrameError as exc:
            raise QueryError(f"the uploaded image does not decode: {exc}") from exc
        [embedding] = await backend.embed_images(prepared.pixels[None])
        name = self.vectors.vector_name
        if name not in embedding.vectors:
            raise QueryError(f"the collection holds {name!r} vectors; the configured backend makes others")
        return embedding.vectors[name]

    async def _nearest_to(
        self, vector: np.ndarray, limit: int, query: Query, *, exclude: list[str] | None = None
    ) -> list[tuple[str, float]]:
        """Nearest frames that also pass the query's filters (Qdrant narrows, SQL filters)."""
        oversample = limit * 4 if _has_sql_only_filters(query) else limit
        [hits] = await self._vector_call(
            self.vectors.nearest(
                [vector],
                limit=oversample,
                cameras=query.cameras or None,
                classes=query.classes or None,
                exclude=exclude,
            )
        )
        if not hits:
            return []
        allowed = await asyncio.to_thread(
            self._allowed, sql.conditions(query, frame_ids=[frame_id for frame_id, _ in hits])
        )
        return [(frame_id, score) for frame_id, score in hits if frame_id in allowed][:limit]

    async def _search_response(self, hits: list[tuple[str, float]]) -> curation_pb2.SearchResponse:
        rows = await asyncio.to_thread(self._rows, [FRAMES.c.frame_id.in_([f for f, _ in hits])])
        by_id = {row["frame_id"]: row for row in rows}
        response = curation_pb2.SearchResponse(model=self.vectors.vector_name)
        response.hits.extend(
            curation_pb2.SearchHit(record=record(by_id[f], self.settings.lateness_s), similarity=s)
            for f, s in hits
            if f in by_id
        )
        return response

    @staticmethod
    async def _vector_call(call):
        try:
            return await call
        except VectorStoreUnavailableError as exc:
            raise UnavailableError(str(exc)) from exc

    def _execute(self, statement: sa.Select) -> list[dict[str, Any]]:
        with self.engine.connect() as connection:
            return [dict(row) for row in connection.execute(statement).mappings()]

    def _rows(self, where: list) -> list[dict[str, Any]]:
        return self._execute(sa.select(FRAMES).where(*where))

    def _allowed(self, where: list) -> set[str]:
        with self.engine.connect() as connection:
            return set(connection.execute(sa.select(FRAMES.c.frame_id).where(*where)).scalars())

    def _statuses(self, frame_ids: list[str]) -> dict[str, int]:
        with self.engine.connect() as connection:
            rows = connection.execute(
                sa.select(FRAMES.c.frame_id, FRAMES.c.status).where(FRAMES.c.frame_id.in_(frame_ids))
            ).all()
            return dict(rows)

    def _budget_state(self, row: dict[str, Any]) -> curation_pb2.BudgetState | None:
        with self.engine.connect() as connection:
            window = (
                connection.execute(sa.select(WINDOWS).where(WINDOWS.c.window_id == row["window_id"])).mappings().first()
            )
            if window is None:
                return None
            day_selected = selected_on_day(connection, window["start"])
            camera_selected = connection.execute(
                sa.select(sa.func.count()).where(
                    FRAMES.c.window_id == row["window_id"],
                    FRAMES.c.camera_id == row["camera_id"],
                    FRAMES.c.status.in_(CHOSEN),
                )
            ).scalar_one()
        return curation_pb2.BudgetState(
            window=window["window_id"],
            window_budget=window["budget"],
            window_selected=window["selected"],
            window_candidates=window["candidates"],
            day_budget=self.settings.budget_per_day,
            day_selected=int(day_selected),
            camera_cap=window["camera_cap"],
            camera_selected=int(camera_selected),
        )


def curation_stats(engine: Engine, settings: CurateSettings) -> curation_pb2.CurationStats:
    """Counts per status and rejection reason, and what they mean for the labelling bill."""
    with engine.connect() as connection:  # one connection for every figure
        by_status = connection.execute(sa.select(FRAMES.c.status, sa.func.count()).group_by(FRAMES.c.status)).all()
        rejected = connection.execute(
            sa.select(FRAMES.c.reasons, sa.func.count())
            .where(FRAMES.c.status == int(Status.REJECTED))
            .group_by(FRAMES.c.reasons)
        ).all()
        by_day = rejections_by_day(connection)
        windows = latest_windows(connection)
    reasons: dict[str, int] = {}
    for packed, count in rejected:
        _count_reasons(packed, count, reasons)
    counts = {Status(status).label: count for status, count in by_status}
    total = sum(counts.values())
    chosen = counts.get(Status.SELECTED.label, 0) + counts.get(Status.LABELLED.label, 0)
    rejected_frames = counts.get(Status.REJECTED.label, 0)
    return curation_pb2.CurationStats(
        frames_by_status=counts,
        rejections_by_reason=reasons,
        reduction_percent=100.0 * rejected_frames / total if total else 0.0,
        frames_ingested=total,
        duplicates=reasons.get("exact_duplicate", 0) + reasons.get("near_duplicate", 0),
        selected=chosen,
        cost_per_frame=settings.cost_per_frame,
        labelling_cost_avoided=(total - chosen) * settings.cost_per_frame,
        rejections_by_day=by_day,
        windows=windows,
    )


STATS_DAYS = 60
STATS_WINDOWS = 50


def _count_reasons(packed: str, count: int, into: MutableMapping[str, int]) -> None:
    """Add `count` frames under each reason of a packed ",blurry,dark," (a frame counts under each)."""
    for name in filter(None, packed.split(",")):
        into[name] = into.get(name, 0) + count


def rejections_by_day(connection: Connection, days: int = STATS_DAYS) -> list[curation_pb2.DayRejections]:
    """Frames and rejections per UTC capture day, the latest `days` days that have frames first."""
    days_since_1970 = FRAMES.c.captured_at / 86400.0
    if connection.dialect.name == "sqlite":  # no floor() unless built with its math functions; CAST
        day = sa.cast(days_since_1970, sa.Integer)  # truncates, the floor for times after 1970
    else:  # PostgreSQL's CAST rounds
        day = sa.cast(sa.func.floor(days_since_1970), sa.Integer)
    day = day.label("day")
    totals = connection.execute(sa.select(day, sa.func.count()).group_by(day).order_by(day.desc()).limit(days)).all()
    if not totals:
        return []
    rejected = connection.execute(
        sa.select(day, FRAMES.c.reasons, sa.func.count())
        .where(FRAMES.c.status == int(Status.REJECTED), day >= totals[-1][0])
        .group_by(day, FRAMES.c.reasons)
    ).all()
    found = {number: curation_pb2.DayRejections(day=_day_text(number), frames=count) for number, count in totals}
    for number, packed, count in rejected:
        found[number].rejected += count
        _count_reasons(packed, count, found[number].by_reason)
    return [found[number] for number, _ in totals]


def latest_windows(connection: Connection, limit: int = STATS_WINDOWS) -> list[curation_pb2.WindowSelection]:
    rows = connection.execute(sa.select(WINDOWS).order_by(WINDOWS.c.start.desc()).limit(limit)).mappings().all()
    return [
        curation_pb2.WindowSelection(
            window_id=row["window_id"], start=timestamp(row["start"]), end=timestamp(row["end"]),
            closed=row["closed"], budget=row["budget"], candidates=row["candidates"], selected=row["selected"],
        )
        for row in rows
    ]  # fmt: skip


def _day_text(number: int) -> str:
    return datetime.fromtimestamp(number * 86400, UTC).strftime("%Y-%m-%d")


def _has_sql_only_filters(query: Query) -> bool:
    return bool(
        query.statuses
        or query.reasons
        or query.frame_ids
        or query.windows
        or query.comparisons
        or query.since is not None
        or query.until is not None
    )


def _page_size(requested: int) -> int:
    if requested < 0:
        raise QueryError(f"page_size must be between 1 and {MAX_PAGE} (0 or absent: {DEFAULT_PAGE}), not {requested}")
    return min(requested or DEFAULT_PAGE, MAX_PAGE)


def _limit(requested: int) -> int:
    """How many hits a search returns: the same rule on gRPC (0 is proto3's "not given") and HTTP."""
    if requested < 0:
        raise QueryError(f"limit must be between 1 and {MAX_PAGE} (0 or absent: {DEFAULT_LIMIT}), not {requested}")
    return min(requested or DEFAULT_LIMIT, MAX_PAGE)


def _status_proto(status: int | None) -> int:
    return Status(status).to_proto() if status else curation_pb2.FRAME_STATUS_UNSPECIFIED


def record(row: dict[str, Any], lateness_s: float = 0.0) -> curation_pb2.FrameRecord:
    """A read-model row as the CurationService's record; `lateness_s` dates a waiting frame's decision."""
    reasons = [Reason(name).to_proto() for name in filter(None, row["reasons"].split(","))]
    classes: dict[str, int] = {}
    for found in row["detections"]:
        classes[found["class"]] = classes.get(found["class"], 0) + 1
    result = curation_pb2.FrameRecord(
        frame=frame_ref(row),
        status=_status_proto(row["status"]),
        reasons=reasons,
        metrics={k: float(v) for k, v in row["metrics"].items()},
        duplicate_of=row["duplicate_of"] or "",
        updated_at=timestamp(row["updated_at"]),
        model=row["model"] or "",
        point_id=row["point_id"] or "",
        detected_classes=classes,
        selection_window=row["window_id"] or "",
        decision=row["decision"] or "",
        failure=row["failure"] or "",
        detections=[detection(d) for d in row["detections"]],
        review_verdict=row["review_verdict"] or "",
    )
    if row["eval_model"] is not None:
        result.evaluation.CopyFrom(
            curation_pb2.EvaluationOutcome(
                model_version=row["eval_model"], tp=row["eval_tp"] or 0, fp=row["eval_fp"] or 0, fn=row["eval_fn"] or 0
            )
        )
    if row["priority"] is not None:
        result.priority.CopyFrom(priority_parts(row))
    span = window_span(row["window_id"]) if row["window_id"] and row["status"] == int(Status.EMBEDDED) else None
    if span is not None:
        result.decision_due.CopyFrom(timestamp(span[1] + lateness_s))
    return result
