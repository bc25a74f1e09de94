"""The embedded pipeline without network servers: for commands that feed it and wait for it.

`framesift ingest` (without --url) runs ingest's use case directly; the downstream services'
consumers run here on the same in-process bus, and `drain` waits until every consumer group
has handled everything published so far, so the command ends with every frame judged.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from framesift.bus.base import Consumer
from framesift.bus.delivery import RetryPolicy
from framesift.bus.inprocess import InProcessBus
from framesift.contracts.topics import all_topic_names
from framesift.platform.runner import ServiceUnit, build_consumers, close_units


class EmbeddedPipeline:
    def __init__(self, bus: InProcessBus, units: Sequence[ServiceUnit], policy: RetryPolicy) -> None:
        self._bus = bus
        self._units = list(units)
        self._policy = policy
        self._consumers: list[Consumer] = []
        self._tasks: list[asyncio.Task] = []

    async def __aenter__(self) -> EmbeddedPipeline:
        for unit in self._units:
            for start in unit.starters:
                await start()
        await self._bus.ensure_topics(all_topic_names())
        self._consumers = build_consumers(self._bus, self._units, self._policy)
        self._tasks = [asyncio.create_task(consumer.run()) for consumer in self._consumers]
        return self

    def lag(self) -> int:
        specs = (spec for unit in self._units for spec in unit.consumers)
        return sum(self._bus.lag(topic, spec.group) for spec in specs for topic in spec.topics)

    async def drain(self, poll_s: float = 0.02) -> None:
        """Return once nothing is waiting for any consumer; raise if a consumer failed."""
        while self.lag():
            for task in self._tasks:
                if task.done():
                    task.result()
                    raise RuntimeError("a consumer stopped before the pipeline drained")
            await asyncio.sleep(poll_s)

    async def finish(self) -> None:
        """The input is complete: drain, let services act on what they hold back, drain again."""
        await self.drain()
        for unit in self._units:
            for flush in unit.flushers:
                await flush()
        await self.drain()

    async def __aexit__(self, *exc_info: object) -> None:
        for consumer in self._consumers:
            await consumer.stop()
        results = await asyncio.gather(*self._tasks, return_exceptions=True)
        await close_units(self._units)
        failure = next((r for r in results if isinstance(r, BaseException)), None)
        if failure is not None and exc_info[0] is None:
            raise RuntimeError(f"embedded pipeline failed: {failure}") from failure
