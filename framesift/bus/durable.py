"""The in-process bus with its log and committed offsets kept in a SQLite file.

The embedded default (`framesift up`, `framesift ingest` without --url) runs on this, so a
frame announced just before a crash or a restart is still handled afterwards: at least once,
as with Kafka. One process owns a data dir's bus at a time (an exclusive file lock); a second
gets a clear error instead of a diverging log. Durable against a process crash (SQLite WAL,
synchronous=NORMAL); a power loss may lose the last transactions, as the embedded default's
other SQLite state may.
"""

from __future__ import annotations

import asyncio
import fcntl
import json
import sqlite3
from pathlib import Path

from framesift.bus.base import BusUnavailableError, Record
from framesift.bus.inprocess import InProcessBus

_SCHEMA = """
CREATE TABLE IF NOT EXISTS bus_records (
    topic TEXT NOT NULL, partition INTEGER NOT NULL, offset INTEGER NOT NULL,
    key TEXT, value BLOB NOT NULL, headers TEXT NOT NULL,
    PRIMARY KEY (topic, partition, offset)
);
CREATE TABLE IF NOT EXISTS bus_offsets (
    consumer_group TEXT NOT NULL, topic TEXT NOT NULL, partition INTEGER NOT NULL, next_offset INTEGER NOT NULL,
    PRIMARY KEY (consumer_group, topic, partition)
);
CREATE TABLE IF NOT EXISTS bus_meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


class BusLockedError(BusUnavailableError):
    """Another process owns this data dir's embedded bus."""


class DurableBus(InProcessBus):
    def __init__(self, path: Path, *, partitions: int = 6) -> None:
        super().__init__(partitions=partitions)
        self._path = path
        self._db: sqlite3.Connection | None = None
        self._lock_file = None

    async def start(self) -> None:
        if self._db is None:
            await asyncio.to_thread(self._open)

    def _open(self) -> None:
        self._path.parent.mkdir(parents=True, exist_ok=True)
        self._lock_file = open(self._path.with_suffix(".lock"), "w")  # noqa: SIM115 - held until stop
        try:
            fcntl.flock(self._lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            self._lock_file.close()
            self._lock_file = None
            raise BusLockedError(
                f"another framesift process uses the embedded bus in {self._path.parent} "
                "(is `framesift up` running? then send frames to it with --url)"
            ) from exc
        # Opened in a worker thread, then used from the event loop's thread only.
        self._db = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
        try:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
            self._check_partitions()
            self._load()
        except BaseException:
            self._close_file()
            raise

    async def stop(self) -> None:
        self._close_file()

    def _close_file(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None
        if self._lock_file is not None:
            fcntl.flock(self._lock_file, fcntl.LOCK_UN)
            self._lock_file.close()
            self._lock_file = None

    async def ready(self) -> bool:
        return self._db is not None

    def _check_partitions(self) -> None:
        # Keys map to partitions by count: a different count would reorder a camera's frames.
        assert self._db is not None
        row = self._db.execute("SELECT value FROM bus_meta WHERE name = 'partitions'").fetchone()
        if row is None:
            self._db.execute("INSERT INTO bus_meta VALUES ('partitions', ?)", (str(self._partitions),))
        elif int(row[0]) != self._partitions:
            raise BusUnavailableError(
                f"the embedded bus in {self._path} was created with {row[0]} partitions, not {self._partitions}"
            )

    def _load(self) -> None:
        assert self._db is not None
        # The file is the truth: forget what an earlier start of this object held in memory.
        self._logs.clear()
        self._committed.clear()
        self._owned.clear()
        for topic, partition, offset, key, value, headers in self._db.execute(
            "SELECT topic, partition, offset, key, value, headers FROM bus_records ORDER BY topic, partition, offset"
        ):
            log = self._log(topic)[partition]
            if offset != len(log):
                raise BusUnavailableError(f"embedded bus log {topic}/{partition} has a gap at offset {len(log)}")
            pairs = tuple((name, bytes.fromhex(data)) for name, data in json.loads(headers))
            log.append(Record(topic, partition, offset, key, value, pairs))
        for group, topic, partition, next_offset in self._db.execute(
            "SELECT consumer_group, topic, partition, next_offset FROM bus_offsets"
        ):
            self._committed.setdefault((group, topic), [0] * self._partitions)[partition] = next_offset

    def _connection(self) -> sqlite3.Connection:
        if self._db is None:
            raise BusUnavailableError("the embedded bus is not started")
        return self._db

    def _persist(self, record: Record) -> None:
        headers = json.dumps([(name, data.hex()) for name, data in record.headers])
        try:
            self._connection().execute(
                "INSERT INTO bus_records VALUES (?, ?, ?, ?, ?, ?)",
                (record.topic, record.partition, record.offset, record.key, record.value, headers),
            )
        except sqlite3.Error as exc:
            raise BusUnavailableError(f"embedded bus could not write {record.topic}: {exc}") from exc

    def _commit(self, group: str, topic: str, partition: int, next_offset: int) -> None:
        self._connection().execute(
            "INSERT INTO bus_offsets VALUES (?, ?, ?, ?) ON CONFLICT (consumer_group, topic, partition) "
            "DO UPDATE SET next_offset = excluded.next_offset",
            (group, topic, partition, next_offset),
        )
        super()._commit(group, topic, partition, next_offset)
