"""A service's handler table -> one consumer-group member for every event type in it.

Each service declares `HANDLERS = {EventType: use_case}` in its handlers.py; a use case is a plain
function of the event and the service's dependencies, or a `Staged` one whose first stage may run
ahead of its turn. This is the one place that turns such a table into a consumer, so no service
writes its own routing by topic.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from google.protobuf.message import Message

from framesift.bus.base import Record
from framesift.contracts.codec import MalformedMessageError, decode
from framesift.contracts.topics import TOPICS, topic_for

from .runner import ConsumerSpec

log = logging.getLogger(__name__)

D = TypeVar("D")
P = TypeVar("P")
EventHandler = Callable[[Any, D], Awaitable[object]]


@dataclass(frozen=True)
class Staged(Generic[P]):
    """A use case in two stages: `prepare` (no effect that counts: fetch, decode, measure) may run
    for the next records while earlier ones are decided; `decide(event, deps, prepared)` runs in
    order, given what `prepare` returned, or None when it has not run or failed (then `decide`
    does that work itself, so a failure takes the usual retry and dead-letter path)."""

    prepare: Callable[[Any, Any], Awaitable[P]]
    decide: Callable[[Any, Any, P | None], Awaitable[object]]


HandlerTable = Mapping[type[Message], EventHandler | Staged]

# How many records a consumer prepares ahead of the one it decides.
DEFAULT_LOOKAHEAD = 4


def consumer_for(handlers: HandlerTable, deps: Any, *, group: str, lookahead: int = DEFAULT_LOOKAHEAD) -> ConsumerSpec:
    """One member of `group` that reads every topic in the table and calls its use case with `deps`."""
    routes = {topic_for(message_type).name: use_case for message_type, use_case in handlers.items()}
    return ConsumerSpec(topics=list(routes), group=group, handler=TableHandler(routes, deps, lookahead))


class TableHandler:
    """Routes a record to its topic's use case; prepares up to `lookahead` staged records ahead."""

    def __init__(self, routes: Mapping[str, EventHandler | Staged], deps: Any, lookahead: int) -> None:
        self._routes = routes
        self._deps = deps
        self._lookahead = lookahead
        self._upcoming: deque[Record] = deque()
        self._prepared: dict[tuple[str, int, int], asyncio.Task] = {}

    async def __call__(self, record: Record) -> None:
        use_case = self._routes[record.topic]
        event = decode(TOPICS[record.topic], record.value, record.headers)
        if not isinstance(use_case, Staged):
            await use_case(event, self._deps)
            return
        prepared = await self._take(record)
        await use_case.decide(event, self._deps, prepared)

    def ahead(self, records: Sequence[Record]) -> None:
        # A new batch: whatever was prepared for records that were not delivered (a revoked
        # partition, a stop) is dropped; they are fetched again with their next delivery.
        for task in self._prepared.values():
            task.cancel()
        self._prepared.clear()
        self._upcoming = deque(r for r in records if isinstance(self._routes.get(r.topic), Staged))
        self._fill()

    async def _take(self, record: Record) -> Any:
        key = _key(record)
        if self._upcoming and _key(self._upcoming[0]) == key:
            self._upcoming.popleft()  # not started yet: this call does the work itself
        task = self._prepared.pop(key, None)
        self._fill()
        if task is None:
            return None
        try:
            return await task
        except asyncio.CancelledError:
            if task.cancelled():
                return None
            raise
        except Exception as exc:  # decide() repeats the work, and its failure takes the usual path
            log.debug("prepare failed; deciding without it", extra={"fields": {"error": f"{type(exc).__name__}"}})
            return None

    def _fill(self) -> None:
        while self._upcoming and len(self._prepared) < self._lookahead:
            record = self._upcoming.popleft()
            self._prepared[_key(record)] = asyncio.create_task(self._prepare(record))

    async def _prepare(self, record: Record) -> Any:
        use_case = self._routes[record.topic]
        assert isinstance(use_case, Staged)
        try:
            event = decode(TOPICS[record.topic], record.value, record.headers)
        except MalformedMessageError:
            return None
        return await use_case.prepare(event, self._deps)


def _key(record: Record) -> tuple[str, int, int]:
    return (record.topic, record.partition, record.offset)
