"""The upload ledger on SQLite and PostgreSQL: new bytes, a client's retry, the window, races."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from framesift.services.ingest import migrations
from framesift.services.ingest.ledger import UploadLedger
from framesift.sql.engine import make_engine, migrate_all

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "postgresql"])
def ledger(request, tmp_path):
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'ledger.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
    engine = make_engine(url)
    migrate_all(engine, {"ingest": migrations.MIGRATIONS})
    with engine.begin() as connection:  # the PostgreSQL database is the session's: start empty
        connection.execute(text("DELETE FROM upload_ledger"))
    yield UploadLedger(engine, window=timedelta(minutes=10))
    engine.dispose()


def test_new_bytes_then_a_retry_before_and_after_the_announcement(ledger: UploadLedger) -> None:
    first = ledger.claim("cam-1", "a" * 64, NOW)
    assert first.new
    # Stored but not announced yet (the bus was down): the retry reuses the frame id.
    retry = ledger.claim("cam-1", "a" * 64, NOW + timedelta(seconds=5))
    assert (retry.frame_id, retry.new) == (first.frame_id, True)
    ledger.mark_published("cam-1", "a" * 64, first.frame_id)
    again = ledger.claim("cam-1", "a" * 64, NOW + timedelta(minutes=1))
    assert (again.frame_id, again.new) == (first.frame_id, False)
    # Another camera's same bytes are its own frame.
    assert ledger.claim("cam-2", "a" * 64, NOW).frame_id != first.frame_id


def test_the_same_bytes_after_the_window_are_a_new_frame(ledger: UploadLedger) -> None:
    first = ledger.claim("cam-1", "b" * 64, NOW)
    ledger.mark_published("cam-1", "b" * 64, first.frame_id)
    later = ledger.claim("cam-1", "b" * 64, NOW + timedelta(minutes=11))
    assert later.new
    assert later.frame_id != first.frame_id
    # Marking the old frame id published does not mark the new frame.
    ledger.mark_published("cam-1", "b" * 64, first.frame_id)
    retry = ledger.claim("cam-1", "b" * 64, NOW + timedelta(minutes=12))
    assert (retry.frame_id, retry.new) == (later.frame_id, True)


def test_concurrent_uploads_of_the_same_bytes_get_one_frame_id(ledger: UploadLedger) -> None:
    with ThreadPoolExecutor(8) as pool:
        claims = list(pool.map(lambda _: ledger.claim("cam-1", "c" * 64, NOW), range(16)))
    assert len({claim.frame_id for claim in claims}) == 1
