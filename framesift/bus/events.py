"""Typed events on top of the bus: publish a protobuf event, consume a topic's events."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from google.protobuf.message import Message

from framesift import metrics
from framesift.bus.base import Bus, BusUnavailableError, Record, RecordHandler
from framesift.codec import decode, encode
from framesift.topics import Topic, topic_for

log = logging.getLogger(__name__)


class EventPublisher:
    """Publishes events on their declared topic, retrying with backoff, then failing loudly."""

    def __init__(self, bus: Bus, *, attempts: int = 3, backoff_s: float = 0.2) -> None:
        self._bus = bus
        self._attempts = attempts
        self._backoff_s = backoff_s

    async def publish(self, event: Message) -> None:
        topic = topic_for(event).name
        key, value, headers = encode(event)
        for attempt in range(1, self._attempts + 1):
            try:
                await self._bus.publish(topic, key, value, headers)
                return
            except BusUnavailableError as exc:
                if attempt == self._attempts:
                    metrics.PUBLISH_FAILURES.labels(topic).inc()
                    raise BusUnavailableError(f"publishing to {topic} failed after {attempt} attempts: {exc}") from exc
                log.warning("publish failed, retrying", extra={"fields": {"topic": topic, "attempt": attempt}})
                await asyncio.sleep(self._backoff_s * 2 ** (attempt - 1))


def on_event(topic: Topic, handle: Callable[[Message], Awaitable[None]]) -> RecordHandler:
    """Adapt a handler of decoded events to a record handler (malformed records raise to the DLQ)."""

    async def handle_record(record: Record) -> None:
        await handle(decode(topic, record.value, record.headers))

    return handle_record
