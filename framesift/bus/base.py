"""The bus contract shared by every implementation (and by the contract tests)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

Headers = tuple[tuple[str, bytes], ...]


@dataclass(frozen=True)
class Record:
    topic: str
    partition: int
    offset: int
    key: str | None
    value: bytes
    headers: Headers = ()
    # Why the record is malformed before any handler sees it (a key that is not UTF-8, no value
    # at all): delivery dead-letters it at once with this reason.
    malformed: str | None = None

    def header(self, name: str) -> bytes | None:
        return dict(self.headers).get(name)


RecordHandler = Callable[[Record], Awaitable[None]]


@runtime_checkable
class LookaheadHandler(Protocol):
    """A record handler that may start work on the records that follow before their turn.

    A consumer calls `ahead` with the records it is about to deliver, in order, and then the
    handler on each of them as usual. What the handler starts early must have no effect that
    counts (fetch, decode, measure); everything that does still happens in order, in the call,
    so at-least-once delivery and per-partition order are unchanged.
    """

    async def __call__(self, record: Record) -> None: ...

    def ahead(self, records: Sequence[Record]) -> None: ...


def announce_ahead(handler: RecordHandler, records: Sequence[Record]) -> None:
    if isinstance(handler, LookaheadHandler):
        handler.ahead(records)


class BusUnavailableError(RuntimeError):
    """The broker could not be reached, or did not acknowledge a write, after retries."""


class RecordRejectedError(ValueError):
    """The broker refused this record itself (too large): retrying cannot help; not an outage."""


class Consumer(Protocol):
    """One member of a consumer group, handling records one at a time per partition."""

    async def run(self) -> None:
        """Consume until `stop`; raises when a record can neither be handled nor dead-lettered."""

    async def stop(self) -> None:
        """Stop fetching, let the record in hand finish, commit, return."""


class Bus(Protocol):
    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def ready(self) -> bool:
        """True while the bus can accept writes."""

    async def ensure_topics(self, names: Sequence[str]) -> None: ...

    async def depth(self, topic: str) -> int:
        """How many records a topic holds now (a dead-letter topic's depth, for the metric)."""

    async def read(self, topic: str) -> list[Record]:
        """Every record on a topic from its beginning, partition by partition (for operators'
        tools such as the DLQ's; it joins no group and commits nothing)."""

    async def publish(self, topic: str, key: str, value: bytes, headers: Headers = ()) -> None:
        """Durably append one record; raises BusUnavailableError when that is not confirmed."""

    def consumer(
        self,
        topics: Sequence[str],
        group: str,
        handler: RecordHandler,
        *,
        service: str,
        policy: RetryPolicyLike,
    ) -> Consumer: ...


class RetryPolicyLike(Protocol):
    max_attempts: int

    def delay(self, attempt: int) -> float: ...


Publish = Callable[[str, str, bytes, Headers], Awaitable[None]]
