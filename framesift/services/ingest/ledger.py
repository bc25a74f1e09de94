"""The upload ledger decides whether an upload is a new frame or a client's retry."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

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
        for _ in range(3):
            with Session(self._engine) as session:
                entry = session.get(UploadLedgerEntry, (camera_id, sha256))
                if entry is None:
                    entry = UploadLedgerEntry(
                        camera_id=camera_id, sha256=sha256, frame_id=str(uuid.uuid4()), received_at=now
                    )
                elif entry.published and now - _aware(entry.received_at) <= self._window:
                    return Claim(entry.frame_id, new=False, received_at=_aware(entry.received_at))
                elif entry.published:
                    # Same bytes after the window: the camera saw the same thing again, a new frame.
                    entry.frame_id, entry.received_at, entry.published = str(uuid.uuid4()), now, False
                # else: an earlier attempt stored the frame but could not announce it; reuse its id.
                session.add(entry)
                try:
                    session.commit()
                except IntegrityError:
                    continue  # a concurrent upload of the same bytes won the insert; read its row
                return Claim(entry.frame_id, new=True, received_at=_aware(entry.received_at))
        raise RuntimeError(f"could not claim ledger entry for {camera_id}/{sha256}")

    def mark_published(self, camera_id: str, sha256: str, frame_id: str) -> None:
        with Session(self._engine) as session:
            entry = session.get(UploadLedgerEntry, (camera_id, sha256))
            if entry is not None and entry.frame_id == frame_id:
                entry.published = True
                session.add(entry)
                session.commit()

    async def claim_async(self, camera_id: str, sha256: str, now: datetime) -> Claim:
        return await asyncio.to_thread(self.claim, camera_id, sha256, now)

    async def mark_published_async(self, camera_id: str, sha256: str, frame_id: str) -> None:
        await asyncio.to_thread(self.mark_published, camera_id, sha256, frame_id)
