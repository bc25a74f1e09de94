"""Decided frames in SQL, with an in-memory near-duplicate index that follows the table.

SQL is the source of truth: exact duplicates are an indexed query, and each scope's Hamming
indexes (one of kept frames, one of rejected originals) catch up with rows other replicas
inserted (id > last seen) before every lookup, so a partition that moves to another replica
keeps its duplicate history. Memory is bounded: each index keeps the newest `capacity` hashes,
and least recently used indexes are dropped (and reloaded from SQL if they come back) when all
of them together exceed it. Each camera's frame sizes are counted in SQL in the same
transaction as the decision, so replicas and restarts agree on its usual size.
"""

from __future__ import annotations

import contextlib
from collections import OrderedDict
from collections.abc import Iterator, Sequence

from sqlalchemy import Engine, delete, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from framesift.sql.columns import insert_for

from .hamming import HammingIndex, nearest_of
from .measures import HASHES_PER_FRAME
from .settings import QualityThresholds
from .sizes import FrameSize, usual_size
from .tables import QualityFrame, QualitySourceSize, unpack_hashes

# A camera's size counts are halved once they add up to more than this: its usual size is the
# majority of roughly its last SIZE_WINDOW to 2 x SIZE_WINDOW frames.
SIZE_WINDOW = 1000
_IndexKey = tuple[str, bool]  # (scope, kept)


class FrameRegistry:
    def __init__(self, engine: Engine, *, capacity: int = 2_000_000, size_window: int = SIZE_WINDOW) -> None:
        self._engine = engine
        self._capacity = capacity
        self._size_window = size_window
        self._indexes: OrderedDict[_IndexKey, HammingIndex] = OrderedDict()
        self._synced_to: dict[_IndexKey, int] = {}

    @contextlib.contextmanager
    def unit(self) -> Iterator[Session]:
        """One session (one connection, one transaction) for a decision's lookups and its record.
        The recorded row keeps its values after the commit (they are the ones written, its id
        came back with the INSERT): reading it again would cost a query per decision."""
        with Session(self._engine, expire_on_commit=False) as session:
            yield session

    @contextlib.contextmanager
    def _session(self, given: Session | None) -> Iterator[Session]:
        if given is not None:
            yield given
            return
        with self.unit() as session:
            yield session

    def decided(self, frame_id: str, session: Session | None = None) -> QualityFrame | None:
        with self._session(session) as s:
            return s.exec(select(QualityFrame).where(QualityFrame.frame_id == frame_id)).first()

    def lookup(self, scope: str, session: Session | None = None) -> ScopeLookup:
        return ScopeLookup(self, scope, session)

    def record(self, row: QualityFrame, session: Session | None = None) -> QualityFrame:
        """Insert the decision; if another worker decided this frame first, return its row."""
        with self._session(session) as s:
            s.add(row)
            try:
                s.commit()
                return row
            except IntegrityError:
                s.rollback()
            existing = self.decided(row.frame_id, s)
        if existing is None:  # pragma: no cover - the conflicting row cannot vanish
            raise RuntimeError(f"decision for {row.frame_id} conflicted but is missing")
        return existing

    def first_with_sha256(self, scope: str, sha256: str, session: Session | None = None) -> str | None:
        with self._session(session) as s:
            query = (
                select(QualityFrame.frame_id)
                .where(QualityFrame.scope == scope, QualityFrame.sha256 == sha256)
                .order_by(col(QualityFrame.id))
                .limit(1)
            )
            return s.exec(query).first()

    def nearest(
        self, scope: str, phashes: Sequence[int], radius: int, *, kept_only: bool, session: Session | None = None
    ) -> str | None:
        with self._session(session) as s:
            for kept in (True,) if kept_only else (True, False):
                found = nearest_of(self._synced_index((scope, kept), s), phashes, radius)
                if found is not None:
                    return s.exec(select(QualityFrame.frame_id).where(QualityFrame.id == found)).first()
            return None

    def usual_size(self, camera_id: str, limits: QualityThresholds, session: Session | None = None) -> FrameSize | None:
        with self._session(session) as s:
            return usual_size(self._size_counts(camera_id, s), limits)

    def observe_size(
        self, camera_id: str, size: FrameSize, limits: QualityThresholds, session: Session
    ) -> FrameSize | None:
        """The camera's usual size before this frame, then one more frame of `size` counted
        (committed with the decision's record): one read of the camera's counts serves both."""
        counts = self._size_counts(camera_id, session)
        usual = usual_size(counts, limits)
        insert = insert_for(session.get_bind().dialect.name, QualitySourceSize.__table__)
        session.execute(
            insert.values(camera_id=camera_id, width=size.width, height=size.height, frames=1).on_conflict_do_update(
                index_elements=["camera_id", "width", "height"],
                set_={"frames": QualitySourceSize.__table__.c.frames + 1},
            )
        )
        if sum(counts.values()) + 1 > self._size_window:
            of_camera = QualitySourceSize.camera_id == camera_id
            session.execute(update(QualitySourceSize).where(of_camera).values(frames=QualitySourceSize.frames // 2))
            session.execute(delete(QualitySourceSize).where(of_camera, QualitySourceSize.frames == 0))
        return usual

    @staticmethod
    def _size_counts(camera_id: str, session: Session) -> dict[FrameSize, int]:
        rows = session.exec(
            select(QualitySourceSize.width, QualitySourceSize.height, QualitySourceSize.frames).where(
                QualitySourceSize.camera_id == camera_id
            )
        ).all()
        return {FrameSize(width, height): frames for width, height, frames in rows}

    def _synced_index(self, key: _IndexKey, session: Session) -> HammingIndex:
        scope, kept = key
        index = self._indexes.get(key)
        indexed = select(QualityFrame.id, QualityFrame.phashes).where(
            QualityFrame.scope == scope, col(QualityFrame.kept).is_(kept), col(QualityFrame.original).is_(True)
        )
        if index is None:
            # Newest `capacity` hashes, oldest first.
            frames = max(1, self._capacity // HASHES_PER_FRAME)
            newest = session.exec(indexed.order_by(col(QualityFrame.id).desc()).limit(frames)).all()
            rows = list(reversed(newest))
            index = HammingIndex(self._capacity)
            self._indexes[key] = index
        else:
            rows = session.exec(
                indexed.where(col(QualityFrame.id) > self._synced_to[key]).order_by(col(QualityFrame.id))
            ).all()
        for row_id, packed in rows:
            for phash in unpack_hashes(packed):
                index.add(phash, row_id)
        if rows:
            self._synced_to[key] = rows[-1][0]
        else:
            self._synced_to.setdefault(key, 0)
        self._indexes.move_to_end(key)
        self._evict_idle_indexes(keep=key)
        return index

    def _evict_idle_indexes(self, keep: _IndexKey) -> None:
        while sum(len(index) for index in self._indexes.values()) > self._capacity and len(self._indexes) > 1:
            key = next(iter(self._indexes))
            if key == keep:
                break
            del self._indexes[key]
            del self._synced_to[key]


class ScopeLookup:
    """The DuplicateLookup of one scope (a camera, or every camera) against the registry."""

    def __init__(self, registry: FrameRegistry, scope: str, session: Session | None = None) -> None:
        self._registry = registry
        self._scope = scope
        self._session = session

    def same_bytes(self, sha256: str) -> str | None:
        return self._registry.first_with_sha256(self._scope, sha256, self._session)

    def similar(self, phashes: Sequence[int], radius: int, *, kept_only: bool) -> str | None:
        return self._registry.nearest(self._scope, phashes, radius, kept_only=kept_only, session=self._session)
