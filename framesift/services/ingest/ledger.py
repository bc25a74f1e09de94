"""The upload ledger decides whether an upload is a new frame or a client's retry."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, update
from sqlmodel import Session

from framesift.sql.columns import insert_for

from .tables import UploadLedgerEntry


@dataclass(frozen=True)
class Claim:
    frame_id: str
    # False: the same bytes were ingested and announced within the window; do nothing more.
    new: bool
    received_at: datetime


def _aware(moment: datetime) -> datetime:
    # SQLite returns naive datetimes; every time we store is UTC.
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class UploadLedger:
    def __init__(self, engine: Engine, *, window: timedelta) -> None:
        self._engine = engine
        self._window = window

    def claim(self, camera_id: str, sha256: str, now: datetime) -> Claim:
        frame_id = str(uuid.uuid4())
        # The common case, bytes never seen: one INSERT; a concurrent upload of the same bytes
        # that won the insert leaves nothing inserted here, and its row is read below.
        inserted = self._insert_new(camera_id, sha256, frame_id, now)
        if inserted:
            return Claim(frame_id, new=True, received_at=now)
        with Session(self._engine) as session:
            entry = session.get(UploadLedgerEntry, (camera_id, sha256), with_for_update=True)
            if entry is None:  # removed meanwhile (a retention job): start again
                return self.claim(camera_id, sha256, now)
            if entry.published and now - _aware(entry.received_at) <= self._window:
                return Claim(entry.frame_id, new=False, received_at=_aware(entry.received_at))
            if entry.published:
                # Same bytes after the window: the camera saw the same thing again, a new frame.
                entry.frame_id, entry.received_at, entry.published = frame_id, now, False
                session.add(entry)
                session.commit()
            # else: an earlier attempt stored the frame but could not announce it; reuse its id.
            return Claim(entry.frame_id, new=True, received_at=_aware(entry.received_at))

    def _insert_new(self, camera_id: str, sha256: str, frame_id: str, now: datetime) -> bool:
        """INSERT .. ON CONFLICT DO NOTHING (PostgreSQL and SQLite): True when this call inserted."""
        statement = (
            insert_for(self._engine.dialect.name, UploadLedgerEntry.__table__)
            .values(camera_id=camera_id, sha256=sha256, frame_id=frame_id, received_at=now, published=False)
            .on_conflict_do_nothing(index_elements=["camera_id", "sha256"])
        )
        with self._engine.begin() as connection:
            return connection.execute(statement).rowcount == 1

    def mark_published(self, camera_id: str, sha256: str, frame_id: str) -> None:
        table = UploadLedgerEntry.__table__
        with self._engine.begin() as connection:
            connection.execute(
                update(table)
                .where(table.c.camera_id == camera_id, table.c.sha256 == sha256, table.c.frame_id == frame_id)
                .values(published=True)
            )

    async def claim_async(self, camera_id: str, sha256: str, now: datetime) -> Claim:
        return await asyncio.to_thread(self.claim, camera_id, sha256, now)

    async def mark_published_async(self, camera_id: str, sha256: str, frame_id: str) -> None:
        await asyncio.to_thread(self.mark_published, camera_id, sha256, frame_id)
