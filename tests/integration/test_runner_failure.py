"""A process whose consumer (or background job) died does not stay up dark: it fails health at once
and exits within fatal_exit_s, even while another consumer is stuck in a record (on a broker its
stop would wait on the group coordinator, for seconds to minutes)."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from framesift.app.registry import build_adapters
from framesift.bus.base import Record
from framesift.platform.runner import ConsumerSpec, ServiceRunner, ServiceUnit
from framesift.runtime.settings import BusKind
from tests.support.waiting import eventually


async def test_a_failure_exits_within_the_bound_even_with_a_consumer_stuck_in_a_record(embedded_settings) -> None:
    settings = embedded_settings.model_copy(update={"bus": BusKind.MEMORY, "fatal_exit_s": 0.2})
    adapters = build_adapters(settings, services=[])
    entered, fail = asyncio.Event(), asyncio.Event()

    async def stuck(record: Record) -> None:
        entered.set()
        await asyncio.Event().wait()  # a record that never finishes

    async def dies() -> None:
        await fail.wait()
        raise RuntimeError("the consumer's dependency broke for good")

    unit = ServiceUnit(
        name="fragile",
        consumers=[ConsumerSpec(topics=["fragile.in"], group="fragile", handler=stuck)],
        background=[dies],
    )
    runner = ServiceRunner(settings, adapters.bus, [unit], topics=["fragile.in", "fragile.in.dlq"])
    task = asyncio.create_task(runner.run(install_signals=False))
    try:
        await eventually(lambda: runner.serving.is_set() or task.done(), timeout=30, what="serving")
        await adapters.bus.publish("fragile.in", "k", b"record")
        await asyncio.wait_for(entered.wait(), timeout=30)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{runner.http_port}") as client:
            assert (await client.get("/readyz")).status_code == 200
        fail.set()
        with pytest.raises(RuntimeError, match="stopped on a failure: the consumer's dependency broke for good"):
            await asyncio.wait_for(task, timeout=30)  # a deadline for the test, far above the bound
    finally:
        task.cancel()
        adapters.close()


async def test_the_dead_letter_topics_depth_is_a_metric(embedded_settings) -> None:
    settings = embedded_settings.model_copy(
        update={"bus": BusKind.MEMORY, "dlq_depth_interval_s": 0.05, "max_attempts": 1, "retry_backoff_s": 0.01}
    )
    adapters = build_adapters(settings, services=[])

    async def refuses(record: Record) -> None:
        raise ValueError("this record cannot be handled")

    unit = ServiceUnit(name="picky", consumers=[ConsumerSpec(topics=["picky.in"], group="picky", handler=refuses)])
    runner = ServiceRunner(settings, adapters.bus, [unit], topics=["picky.in", "picky.in.dlq"])
    task = asyncio.create_task(runner.run(install_signals=False))
    try:
        await eventually(lambda: runner.serving.is_set() or task.done(), timeout=30, what="serving")
        for i in range(3):
            await adapters.bus.publish("picky.in", f"k{i}", b"record")
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{runner.http_port}") as client:

            async def depth_is_3() -> bool:
                return 'framesift_dlq_depth{topic="picky.in.dlq"} 3.0' in (await client.get("/metrics")).text

            await eventually(depth_is_3, timeout=30, what="the DLQ depth metric")
    finally:
        runner.request_stop()
        await asyncio.wait_for(task, timeout=30)
        adapters.close()
