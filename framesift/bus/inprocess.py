"""An asyncio bus for the embedded default and fast tests, with Kafka's delivery semantics.

Partitioned append-only logs; consumer groups with committed offsets; one member of a group owns
a partition at a time (so a key's records stay in order); a record is committed only after its
handler succeeded or it was dead-lettered, so a member that dies mid-record leaves it for the
next. Everything lives in memory: a process restart loses what was not yet consumed
(framesift.bus.durable keeps the same bus in a SQLite file).
"""

from __future__ import annotations

import asyncio
import zlib
from collections.abc import Sequence

from framesift.bus.base import Headers, Record, RecordHandler, announce_ahead
from framesift.bus.delivery import RetryPolicy, deliver
from framesift.runtime import metrics

# Records a member handles from one partition before letting other members have a turn.
_BATCH = 64


class InProcessBus:
    def __init__(self, *, partitions: int = 6) -> None:
        self._partitions = partitions
        self._logs: dict[str, list[list[Record]]] = {}
        self._committed: dict[tuple[str, str], list[int]] = {}
        self._owned: set[tuple[str, str, int]] = set()
        self._changed = asyncio.Condition()

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def ready(self) -> bool:
        return True

    async def ensure_topics(self, names: Sequence[str]) -> None:
        for name in names:
            self._log(name)

    def _log(self, topic: str) -> list[list[Record]]:
        if topic not in self._logs:
            self._logs[topic] = [[] for _ in range(self._partitions)]
        return self._logs[topic]

    def partition_for(self, key: str) -> int:
        return zlib.crc32(key.encode()) % self._partitions

    async def publish(self, topic: str, key: str, value: bytes, headers: Headers = ()) -> None:
        partition = self.partition_for(key)
        log = self._log(topic)[partition]
        record = Record(topic, partition, len(log), key, value, tuple(headers))
        self._persist(record)
        log.append(record)
        metrics.MESSAGES_PUBLISHED.labels(topic).inc()
        async with self._changed:
            self._changed.notify_all()

    def _persist(self, record: Record) -> None:
        """Make the record durable before it is visible; memory only here (see DurableBus)."""

    def records(self, topic: str, since: list[int] | None = None) -> list[Record]:
        """The records on a topic, partition by partition, from `since` (end_offsets of earlier) on."""
        starts = since or [0] * self._partitions
        return [record for log, start in zip(self._log(topic), starts, strict=True) for record in log[start:]]

    async def read(self, topic: str) -> list[Record]:
        return self.records(topic)

    async def depth(self, topic: str) -> int:
        return sum(self.end_offsets(topic))

    def end_offsets(self, topic: str) -> list[int]:
        return [len(log) for log in self._log(topic)]

    def lag(self, topic: str, group: str) -> int:
        committed = self._committed.get((group, topic), [0] * self._partitions)
        return sum(len(log) - done for log, done in zip(self._log(topic), committed, strict=True))

    def consumer(
        self,
        topics: Sequence[str],
        group: str,
        handler: RecordHandler,
        *,
        service: str,
        policy: RetryPolicy,
    ) -> InProcessConsumer:
        return InProcessConsumer(self, list(topics), group, handler, service=service, policy=policy)

    # -- used by InProcessConsumer -------------------------------------------------------------

    def _claimable(self, topics: list[str], group: str) -> tuple[str, int] | None:
        """A partition with uncommitted records that no member of the group owns."""
        for topic in topics:
            committed = self._committed.setdefault((group, topic), [0] * self._partitions)
            for partition, log in enumerate(self._log(topic)):
                if committed[partition] < len(log) and (group, topic, partition) not in self._owned:
                    return topic, partition
        return None

    def _claim(self, topics: list[str], group: str) -> tuple[str, int] | None:
        found = self._claimable(topics, group)
        if found is not None:
            self._owned.add((group, *found))
        return found

    def _commit(self, group: str, topic: str, partition: int, next_offset: int) -> None:
        self._committed[(group, topic)][partition] = next_offset

    async def _release(self, group: str, topic: str, partition: int) -> None:
        self._owned.discard((group, topic, partition))
        async with self._changed:
            self._changed.notify_all()


class InProcessConsumer:
    def __init__(
        self,
        bus: InProcessBus,
        topics: list[str],
        group: str,
        handler: RecordHandler,
        *,
        service: str,
        policy: RetryPolicy,
    ) -> None:
        self._bus = bus
        self._topics = topics
        self._group = group
        self._handler = handler
        self._service = service
        self._policy = policy
        self._stopping = asyncio.Event()

    async def run(self) -> None:
        bus = self._bus
        while not self._stopping.is_set():
            async with bus._changed:
                await bus._changed.wait_for(
                    lambda: self._stopping.is_set() or bus._claimable(self._topics, self._group) is not None
                )
            if self._stopping.is_set():
                return
            claimed = bus._claim(self._topics, self._group)
            if claimed is None:
                continue
            topic, partition = claimed
            try:
                await self._drain(topic, partition)
            finally:
                await bus._release(self._group, topic, partition)

    async def _drain(self, topic: str, partition: int) -> None:
        bus = self._bus
        committed = bus._committed[(self._group, topic)]
        log = bus._log(topic)[partition]
        announce_ahead(self._handler, log[committed[partition] : committed[partition] + _BATCH])
        for _ in range(_BATCH):
            if self._stopping.is_set() or committed[partition] >= len(log):
                return
            record = log[committed[partition]]
            done = await deliver(
                record,
                self._handler,
                policy=self._policy,
                service=self._service,
                publish=bus.publish,
                stopping=self._stopping,
            )
            if not done:
                return
            bus._commit(self._group, topic, partition, record.offset + 1)

    async def stop(self) -> None:
        self._stopping.set()
        async with self._bus._changed:
            self._bus._changed.notify_all()
