"""A service's handler table -> one consumer-group member for every event type in it.

Each service declares `HANDLERS = {EventType: use_case}` in its handlers.py; a use case is a plain
function of the event and the service's dependencies. This is the one place that turns such a
table into a consumer, so no service writes its own routing by topic.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar

from google.protobuf.message import Message

from framesift.bus.base import Record
from framesift.bus.events import on_event
from framesift.contracts.topics import topic_for

from .runner import ConsumerSpec

D = TypeVar("D")
EventHandler = Callable[[Any, D], Awaitable[object]]
HandlerTable = Mapping[type[Message], EventHandler]


def consumer_for(handlers: HandlerTable, deps: Any, *, group: str) -> ConsumerSpec:
    """One member of `group` that reads every topic in the table and calls its use case with `deps`."""
    routes = {}
    for message_type, use_case in handlers.items():
        topic = topic_for(message_type)
        routes[topic.name] = on_event(topic, _bound(use_case, deps))

    async def handle_record(record: Record) -> None:
        await routes[record.topic](record)

    return ConsumerSpec(topics=list(routes), group=group, handler=handle_record)


def _bound(use_case: EventHandler, deps: Any) -> Callable[[Message], Awaitable[None]]:
    async def handle(event: Message) -> None:
        await use_case(event, deps)

    return handle
