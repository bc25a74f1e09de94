"""A camera that goes quiet still gets its last window chosen from (wall clock + idle time),
through the curate service's background job in a real runner."""

from __future__ import annotations

import sqlalchemy as sa

from framesift.adapters import build_adapters
from framesift.services.curate.state.models import Status
from framesift.services.ingest.bootstrap import ingest_deps
from framesift.services.ingest.cameras import CameraRegistry
from framesift.services.ingest.handlers import ingest_frame
from framesift.settings import CurateSettings
from tests.support.curation import uploads
from tests.support.running import running
from tests.support.waiting import eventually


def statuses(engine) -> dict[Status, int]:
    with engine.connect() as connection:
        rows = connection.execute(sa.text("SELECT status, count(*) FROM curated_frames GROUP BY status")).all()
    return {Status(status): count for status, count in rows}


async def test_the_last_window_of_a_quiet_camera_closes_after_the_idle_time(embedded_settings) -> None:
    # Frames captured this morning, all in one window: no later frame will ever close it.
    curate = CurateSettings(window_s=1800, lateness_s=60, budget_per_window=2, idle_close_s=0.2)
    adapters = build_adapters(embedded_settings.model_copy(update={"curate": curate}))
    await adapters.start()
    CameraRegistry(adapters.engine).add("quiet-cam")
    async with running(adapters, ["ingest", "quality", "embed", "curate"]):
        deps = ingest_deps(adapters)
        for frame in uploads("quiet-cam", count=4, step_s=60)[:4]:
            await ingest_frame(frame, deps)

        def chosen() -> bool:
            return statuses(adapters.engine).get(Status.SELECTED, 0) == 2

        await eventually(chosen, timeout=30, what="the idle window to be chosen from")
        assert statuses(adapters.engine).get(Status.SKIPPED, 0) == 2  # the other two, with reasons
    adapters.close()
