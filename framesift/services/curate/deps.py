"""What curate's use cases share: SQL, Qdrant, the publisher, the settings, and per-process caches."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine

from framesift.bus.delivery import RetryableError
from framesift.bus.events import EventPublisher
from framesift.vectors.qdrant import FrameVectors, VectorStoreUnavailableError

from .changes import FrameChanges, announce, shared
from .chosen import Chosen, ChosenVectors, chosen_now
from .settings import CurateSettings

T = TypeVar("T")


@dataclass
class CurateDeps:
    engine: Engine
    vectors: FrameVectors
    publisher: EventPublisher
    settings: CurateSettings
    changes: FrameChanges = field(default_factory=FrameChanges)
    # Provisional scores at embedding time use a snapshot of the chosen set, refreshed when this
    # process chooses or labels and at least every `chosen_ttl_s` (other replicas' choices);
    # a window's final scores always read it fresh.
    chosen_ttl_s: float = 10.0
    chosen_vectors: ChosenVectors = field(default_factory=ChosenVectors, init=False, repr=False)
    # Window closing is serialised in a process (across replicas a window is claimed in SQL).
    closing: asyncio.Lock = field(default_factory=asyncio.Lock, init=False, repr=False)
    # One outbox publisher at a time in a process (across replicas, rows are claimed in SQL).
    publishing: asyncio.Lock = field(default_factory=asyncio.Lock, init=False, repr=False)
    # When a frame last joined each window in this process (window -> monotonic), for idle closing.
    joined: dict[str, float] = field(default_factory=dict, init=False, repr=False)
    started: float = field(default_factory=time.monotonic, init=False, repr=False)
    _chosen: tuple[float, Chosen] | None = field(default=None, init=False, repr=False)

    @property
    def weights(self) -> dict[str, float]:
        return self.settings.weights.model_dump()

    async def chosen(self, *, fresh: bool = False) -> Chosen:
        now = time.monotonic()
        if fresh or self._chosen is None or now - self._chosen[0] > self.chosen_ttl_s:
            self._chosen = (now, await asyncio.to_thread(chosen_now, self.engine))
        return self._chosen[1]

    def forget_chosen(self) -> None:
        self._chosen = None

    @staticmethod
    async def vector_call(call: Awaitable[T]) -> T:
        """A Qdrant call whose outage is retried by the runner (never dead-lettered)."""
        try:
            return await call
        except VectorStoreUnavailableError as exc:
            raise RetryableError(str(exc)) from exc

    async def write(self, apply: Callable[..., Any], event: Any, **extra: Any) -> Any:
        """Fold one event into the read model and announce the change, in one transaction."""

        def run() -> Any:
            with self.engine.begin() as connection:
                result = apply(connection, event, **extra)
                announce(connection, [event.frame_id])
                return result

        return await asyncio.to_thread(run)

    def changed(self, frame_ids: list[str]) -> None:
        """Tell this process's watchers; with PostgreSQL they hear it from the change feed."""
        if not shared(self.engine):
            self.changes.publish(frame_ids)

    def read(self, query: Callable[[Connection], T]) -> Awaitable[T]:
        def run() -> T:
            with self.engine.connect() as connection:
                return query(connection)

        return asyncio.to_thread(run)
