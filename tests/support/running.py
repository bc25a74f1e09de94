"""Run services in the test's event loop on free ports, stopped cleanly afterwards."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from framesift.app.registry import build_runner
from framesift.platform.adapters import Adapters
from framesift.platform.runner import ServiceRunner
from tests.support.waiting import eventually


@asynccontextmanager
async def running(adapters: Adapters, names: list[str] | None = None) -> AsyncIterator[ServiceRunner]:
    runner = await build_runner(adapters, names or ["ingest"])
    task = asyncio.create_task(runner.run(install_signals=False))
    await eventually(lambda: runner.serving.is_set() or task.done(), timeout=60, what="services serving")
    if task.done():
        task.result()
    try:
        yield runner
    finally:
        runner.request_stop()
        await asyncio.wait_for(task, timeout=60)
