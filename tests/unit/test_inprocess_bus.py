from __future__ import annotations

import pytest

from framesift.bus.inprocess import InProcessBus
from tests.contract.bus_contract import BusContract


class TestInProcessBus(BusContract):
    @pytest.fixture
    async def bus(self):
        bus = InProcessBus(partitions=4)
        await bus.start()
        yield bus
        await bus.stop()


async def test_lag_counts_uncommitted_records() -> None:
    bus = InProcessBus(partitions=2)
    await bus.publish("t", "a", b"1")
    await bus.publish("t", "b", b"2")
    assert bus.lag("t", "g") == 2
