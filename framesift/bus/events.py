"""Typed events on top of the bus: publish a protobuf event, consume a topic's events."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from google.protobuf.message import Message

from framesift.bus.base import Bus, BusUnavailableError, Record, RecordHandler
from framesift.contracts.codec import decode, encode
from framesift.contracts.topics import Topic, topic_for
from framesift.runtime import metrics
from framesift.runtime.retry import of_type, with_retries

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
        try:
            await with_retries(
                lambda: self._bus.publish(topic, key, value, headers),
                what=f"publish to {topic}",
                retry_on=of_type(BusUnavailableError),
                attempts=self._attempts,
                backoff_s=self._backoff_s,
                gave_up=lambda exc: BusUnavailableError(
                    f"publishing to {topic} failed after {self._attempts} attempts: {exc}"
                ),
            )
        except BusUnavailableError:
            metrics.PUBLISH_FAILURES.labels(topic).inc()
            raise


def on_event(topic: Topic, handle: Callable[[Message], Awaitable[None]]) -> RecordHandler:
    """Adapt a handler of decoded events to a record handler (malformed records raise to the DLQ)."""

    async def handle_record(record: Record) -> None:
        await handle(decode(topic, record.value, record.headers))

    return handle_record
