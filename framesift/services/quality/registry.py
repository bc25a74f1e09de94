"""Decided frames in SQL, with an in-memory near-duplicate index that follows the table.

SQL is the source of truth: exact duplicates are an indexed query, and each scope's Hamming
index catches up with rows other replicas inserted (id > last seen) before every lookup, so a
partition that moves to another replica keeps its duplicate history. Memory is bounded: each
scope's index keeps the newest `capacity` kept hashes, and least recently used scopes are
dropped (and reloaded from SQL if they come back) when all of them together exceed it.
"""

from __future__ import annotations

import contextlib
from collections import OrderedDict
from collections.abc import Iterator, Sequence

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from .hamming import HammingIndex, nearest_of
from .measures import HASHES_PER_FRAME
from .tables import QualityFrame, unpack_hashes


class FrameRegistry:
    def __init__(self, engine: Engine, *, capacity: int = 2_000_000) -> None:
        self._engine = engine
        self._capacity = capacity
        self._indexes: OrderedDict[str, HammingIndex] = OrderedDict()
        self._synced_to: dict[str, int] = {}

    @contextlib.contextmanager
    def unit(self) -> Iterator[Session]:
        """One session (one connection, one transaction) for a decision's lookups and its record."""
        with Session(self._engine) as session:
            yield session

    @contextlib.contextmanager
    def _session(self, given: Session | None) -> Iterator[Session]:
        if given is not None:
            yield given
            return
        with Session(self._engine) as session:
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
                s.refresh(row)
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

    def nearest_kept(
        self, scope: str, phashes: Sequence[int], radius: int, session: Session | None = None
    ) -> str | None:
        with self._session(session) as s:
            found = nearest_of(self._synced_index(scope, s), phashes, radius)
            if found is None:
                return None
            return s.exec(select(QualityFrame.frame_id).where(QualityFrame.id == found)).first()

    def _synced_index(self, scope: str, session: Session) -> HammingIndex:
        index = self._indexes.get(scope)
        kept = select(QualityFrame.id, QualityFrame.phashes).where(
            QualityFrame.scope == scope, col(QualityFrame.kept).is_(True)
        )
        if index is None:
            # Newest `capacity` kept hashes, oldest first.
            frames = max(1, self._capacity // HASHES_PER_FRAME)
            newest = session.exec(kept.order_by(col(QualityFrame.id).desc()).limit(frames)).all()
            rows = list(reversed(newest))
            index = HammingIndex(self._capacity)
            self._indexes[scope] = index
        else:
            rows = session.exec(
                kept.where(col(QualityFrame.id) > self._synced_to[scope]).order_by(col(QualityFrame.id))
            ).all()
        for row_id, packed in rows:
            for phash in unpack_hashes(packed):
                index.add(phash, row_id)
        if rows:
            self._synced_to[scope] = rows[-1][0]
        else:
            self._synced_to.setdefault(scope, 0)
        self._indexes.move_to_end(scope)
        self._evict_idle_scopes(keep=scope)
        return index

    def _evict_idle_scopes(self, keep: str) -> None:
        while sum(len(index) for index in self._indexes.values()) > self._capacity and len(self._indexes) > 1:
            scope = next(iter(self._indexes))
            if scope == keep:
                break
            del self._indexes[scope]
            del self._synced_to[scope]


class ScopeLookup:
    """The DuplicateLookup of one scope (a camera, or every camera) against the registry."""

    def __init__(self, registry: FrameRegistry, scope: str, session: Session | None = None) -> None:
        self._registry = registry
        self._scope = scope
        self._session = session

    def same_bytes(self, sha256: str) -> str | None:
        return self._registry.first_with_sha256(self._scope, sha256, self._session)

    def similar(self, phashes: Sequence[int], radius: int) -> str | None:
        return self._registry.nearest_kept(self._scope, phashes, radius, self._session)
