"""A camera that goes quiet still gets its last window chosen from (wall clock + idle time),
through the curate service's background job in a real runner."""

from __future__ import annotations

import contextlib
from datetime import timedelta

import sqlalchemy as sa

from framesift.app.registry import build_adapters
from framesift.contracts.vocabulary import Status
from framesift.services.curate.settings import CurateSettings
from framesift.services.ingest.bootstrap import ingest_deps
from framesift.services.ingest.cameras import CameraRegistry
from framesift.services.ingest.handlers import UploadFrame, ingest_frame
from tests.support.curation import START, insert_frame, uploads
from tests.support.running import running
from tests.support.scenes import encode, scene
from tests.support.waiting import eventually


def statuses(engine) -> dict[Status, int]:
    with engine.connect() as connection:
        rows = connection.execute(sa.text("SELECT status, count(*) FROM curated_frames GROUP BY status")).all()
    return {Status(status): count for status, count in rows}


@contextlib.asynccontextmanager
async def pipeline_for(embedded_settings, camera: str):
    """The four services in a runner, windows of 30 min closing 0.2 s after a camera goes quiet;
    yields the adapters and ingest's dependencies."""
    curate = CurateSettings(window_s=1800, lateness_s=60, budget_per_window=2, idle_close_s=0.2)
    adapters = build_adapters(embedded_settings.model_copy(update={"curate": curate}))
    await adapters.start()
    CameraRegistry(adapters.engine).add(camera)
    try:
        async with running(adapters, ["ingest", "quality", "embed", "curate"]):
            yield adapters, ingest_deps(adapters, adapters.settings.ingest)
    finally:
        adapters.close()


async def test_the_last_window_of_a_quiet_camera_closes_after_the_idle_time(embedded_settings) -> None:
    # Frames captured this morning, all in one window: no later frame will ever close it.
    async with pipeline_for(embedded_settings, "quiet-cam") as (adapters, deps):
        for frame in uploads("quiet-cam", count=4, step_s=60)[:4]:
            await ingest_frame(frame, deps)

        def chosen() -> bool:
            return statuses(adapters.engine).get(Status.SELECTED, 0) == 2

        await eventually(chosen, timeout=30, what="the idle window to be chosen from")
        assert statuses(adapters.engine).get(Status.SKIPPED, 0) == 2  # the other two, with reasons


async def test_a_late_frame_never_joins_a_closed_window(embedded_settings) -> None:
    # 06:00-07:10 from one camera: the 06:00 and 06:30 windows close on the watermark, the 07:00
    # window when the camera goes quiet. A frame captured at 06:05 then arrives (a backlog): its
    # own window and the watermark's are both closed, so it must join a window still open.
    async with pipeline_for(embedded_settings, "late-cam") as (adapters, deps):
        for frame in uploads("late-cam", count=8, step_s=600)[:8]:
            await ingest_frame(frame, deps)

        def decided() -> int:
            counts = statuses(adapters.engine)
            return counts.get(Status.SELECTED, 0) + counts.get(Status.SKIPPED, 0)

        await eventually(lambda: decided() == 8, timeout=30, what="all three windows to be chosen from")
        backlog = UploadFrame("late-cam", encode(scene(640, 360, seed=900)), START + timedelta(minutes=5))
        await ingest_frame(backlog, deps)
        await eventually(lambda: decided() == 9, timeout=30, what="the late frame to be chosen from")


def test_a_frame_joining_while_its_window_is_chosen_from_moves_to_the_next_window(tmp_path) -> None:
    """The closer reads a window's candidates, then chooses (Qdrant, scoring) while a frame joins
    (another replica, or the consumer a moment before the claim): that frame must not be left in
    the closed window, undecided forever."""
    import sqlalchemy as sa

    from framesift.app.registry import create_schema
    from framesift.services.curate.deps import CurateDeps
    from framesift.services.curate.selection import Budget
    from framesift.services.curate.selection_run import _store_decisions
    from framesift.services.curate.tables import CuratedFrame
    from framesift.services.curate.windows import join_window, window_state
    from framesift.sql.engine import make_engine

    engine = make_engine(f"sqlite:///{tmp_path / 'curate.db'}")
    create_schema(engine, ["curate"])
    deps = CurateDeps(engine, vectors=None, publisher=None, settings=CurateSettings(window_s=1800))  # type: ignore[arg-type]
    captured = START.timestamp()

    def embedded(frame_id: str) -> None:
        with engine.begin() as connection:
            window = join_window(connection, captured, 1800)
            insert_frame(connection, frame_id, captured_at=captured, status=int(Status.EMBEDDED), window_id=window)

    embedded("candidate")
    state = window_state(engine, "w20261125T060000-1800s")
    embedded("straggler")  # joins after the candidates were read, before the claim
    decision = {"frame_id": "candidate", "status": int(Status.SELECTED), "decision": "chosen"}
    assert _store_decisions(deps, state, [decision], Budget(frames=1, per_camera=1), candidates=1)
    with engine.connect() as connection:
        window_of = dict(connection.execute(sa.select(CuratedFrame.frame_id, CuratedFrame.window_id)).all())
        windows = dict(connection.execute(sa.text("SELECT window_id, closed FROM selection_windows")).all())
    engine.dispose()
    assert windows["w20261125T060000-1800s"]  # closed
    assert window_of == {"candidate": "w20261125T060000-1800s", "straggler": "w20261125T063000-1800s"}
    assert not windows["w20261125T063000-1800s"]  # open: the straggler is decided when it closes
