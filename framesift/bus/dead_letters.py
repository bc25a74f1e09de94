"""The dead-letter topics, read and replayed by an operator (`framesift dlq list|show|replay`).

A dead letter is the original record (key, value, headers) plus framesift's headers: why, which
service, after how many attempts, from which topic, partition and offset. Replaying republishes
the original record on its topic, once the cause is fixed; handlers are idempotent (upserts by
frame id), so a record replayed twice changes nothing more. A dead letter whose value was cut to
fit (`framesift-truncated`) cannot be replayed: its original is gone.
"""

from __future__ import annotations

from dataclasses import dataclass

from framesift.contracts.topics import DLQ_SUFFIX

from .base import Bus, Headers, Record
from .delivery import (
    DLQ_ATTEMPTS,
    DLQ_ERROR,
    DLQ_ORIGINAL_OFFSET,
    DLQ_ORIGINAL_PARTITION,
    DLQ_ORIGINAL_TOPIC,
    DLQ_SERVICE,
    DLQ_TRUNCATED,
)

FRAMESIFT_HEADER = "framesift-"
REPLAYED_FROM = "framesift-replayed-from"  # on a replayed record: "<dlq topic>:<partition>:<offset>"


@dataclass(frozen=True)
class DeadLetter:
    record: Record  # as stored on the dead-letter topic

    @property
    def where(self) -> str:
        return f"{self.record.partition}:{self.record.offset}"

    def _text(self, name: str) -> str:
        value = self.record.header(name)
        return value.decode(errors="replace") if value is not None else ""

    @property
    def error(self) -> str:
        return self._text(DLQ_ERROR)

    @property
    def service(self) -> str:
        return self._text(DLQ_SERVICE)

    @property
    def attempts(self) -> str:
        return self._text(DLQ_ATTEMPTS)

    @property
    def original_topic(self) -> str:
        return self._text(DLQ_ORIGINAL_TOPIC)

    @property
    def original(self) -> str:
        return (
            f"{self._text(DLQ_ORIGINAL_TOPIC)} {self._text(DLQ_ORIGINAL_PARTITION)}:{self._text(DLQ_ORIGINAL_OFFSET)}"
        )

    @property
    def truncated(self) -> bool:
        return self.record.header(DLQ_TRUNCATED) is not None

    def original_headers(self) -> Headers:
        return tuple(h for h in self.record.headers if not h[0].startswith(FRAMESIFT_HEADER))


def dlq_name(topic: str) -> str:
    """The dead-letter topic of `topic` (a name already ending in .dlq is taken as it is)."""
    return topic if topic.endswith(DLQ_SUFFIX) else topic + DLQ_SUFFIX


async def dead_letters(bus: Bus, topic: str) -> list[DeadLetter]:
    return [DeadLetter(record) for record in await bus.read(dlq_name(topic))]


async def replay(bus: Bus, topic: str, wanted: set[str] | None = None) -> tuple[list[str], list[str]]:
    """Republish dead letters (all, or those whose "partition:offset" is in `wanted`) on their
    original topic; returns (replayed, refused: cut-down ones) as "partition:offset"."""
    name = dlq_name(topic)
    target = name.removesuffix(DLQ_SUFFIX)
    replayed, refused = [], []
    for letter in await dead_letters(bus, topic):
        if wanted is not None and letter.where not in wanted:
            continue
        if letter.truncated:
            refused.append(letter.where)
            continue
        headers = (*letter.original_headers(), (REPLAYED_FROM, f"{name}:{letter.where}".encode()))
        await bus.publish(target, letter.record.key or "", letter.record.value, headers)
        replayed.append(letter.where)
    return replayed, refused
