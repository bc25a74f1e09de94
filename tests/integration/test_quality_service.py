"""The quality service on the embedded default: ingest -> frames.ingested -> quality -> verdicts.

Real parts throughout (in-process bus with groups/retries/DLQ, local object store, SQLite or
PostgreSQL); the only fake is a store that fails on demand, for an outage the local store
cannot have.
"""

from __future__ import annotations

import uuid

import pytest
from sqlmodel import Session, func, select

from framesift.app.registry import build_adapters
from framesift.bus.delivery import DLQ_ERROR, RetryableError
from framesift.bus.events import EventPublisher
from framesift.contracts.codec import decode, encode
from framesift.contracts.topics import FRAMES_CHECKED, FRAMES_INGESTED, FRAMES_REJECTED
from framesift.services.ingest.bootstrap import ingest_deps
from framesift.services.ingest.handlers import UploadFrame, ingest_frame
from framesift.services.quality.bootstrap import quality_deps
from framesift.services.quality.handlers import check_frame
from framesift.services.quality.registry import FrameRegistry
from framesift.services.quality.settings import DedupScope
from framesift.services.quality.sizes import FrameSize
from framesift.services.quality.tables import QualityFrame, QualitySourceSize
from framesift.sql.engine import make_engine
from framesift.store.base import StoreUnavailableError
from framesift.v1 import frames_pb2
from tests.support.running import running
from tests.support.scenes import blurred, scaled_luma, scene
from tests.support.scenes import encode as encode_image
from tests.support.waiting import eventually

REASON = frames_pb2.RejectReason


@pytest.fixture
def adapters(embedded_adapters):
    return embedded_adapters


async def upload(adapters, data: bytes, camera: str = "cam-1") -> str:
    return (await ingest_frame(UploadFrame(camera, data), ingest_deps(adapters, adapters.settings.ingest))).frame_id


def verdicts(bus) -> dict[str, frames_pb2.FrameChecked | frames_pb2.FrameRejected]:
    found = {}
    for topic in (FRAMES_CHECKED, FRAMES_REJECTED):
        for record in bus.records(topic.name):
            event = decode(topic, record.value, record.headers)
            found[event.frame_id] = event
    return found


async def ingested_event(adapters, frame_id: str) -> frames_pb2.FrameIngested:
    for record in adapters.bus.records(FRAMES_INGESTED.name):
        event = decode(FRAMES_INGESTED, record.value, record.headers)
        if event.frame_id == frame_id:
            return event
    raise AssertionError(f"{frame_id} was not ingested")


async def test_every_ingested_frame_gets_one_verdict(adapters) -> None:
    original = scene(seed=11)
    async with running(adapters, ["ingest", "quality"]):
        kept = await upload(adapters, encode_image(original))
        near = await upload(adapters, encode_image(original, quality=35))
        soft = await upload(adapters, encode_image(blurred(scene(seed=12), 6)))
        cut = await upload(adapters, encode_image(scene(seed=13))[:5000])
        found = await eventually(lambda: len(verdicts(adapters.bus)) == 4 and verdicts(adapters.bus), what="verdicts")
    checked = found[kept]
    assert isinstance(checked, frames_pb2.FrameChecked)
    assert (checked.width, checked.height) == (640, 360)
    assert checked.phash != 0
    assert checked.metrics["edge_blur_px"] < 2.0
    assert checked.frame.object_key.startswith("frames/cam-1/")
    assert list(found[near].reasons) == [REASON.REJECT_REASON_NEAR_DUPLICATE]
    assert found[near].duplicate_of == kept
    assert list(found[soft].reasons) == [REASON.REJECT_REASON_BLURRY]
    assert found[soft].metrics["edge_blur_px"] > 2.0
    assert list(found[cut].reasons) == [REASON.REJECT_REASON_CORRUPT]
    assert "truncated" in found[cut].detail
    assert found[cut].metrics == {}


async def test_redelivery_republishes_the_same_verdict_and_judges_once(adapters) -> None:
    frame_id = await upload(adapters, encode_image(scene(seed=21)))
    event = await ingested_event(adapters, frame_id)
    deps = quality_deps(adapters, adapters.settings.quality)
    first = await check_frame(event, deps)
    again = await check_frame(event, deps)  # a second delivery must not call it a duplicate of itself
    assert isinstance(again, frames_pb2.FrameChecked)
    assert again.SerializeToString(deterministic=True) == first.SerializeToString(deterministic=True)
    # How comfortably it passed, for consumers that rank frames without knowing the thresholds.
    assert set(first.margins) == {"sharpness", "exposure", "contrast"}
    assert all(0.0 <= value <= 1.0 for value in first.margins.values())
    assert len(adapters.bus.records(FRAMES_CHECKED.name)) == 2  # at-least-once: same event twice
    with Session(adapters.engine) as session:
        assert len(session.exec(select(QualityFrame).where(QualityFrame.frame_id == frame_id)).all()) == 1


@pytest.fixture(params=["sqlite", "postgresql"])
def engine_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'quality.db'}"
    return request.getfixturevalue("postgres_url")


async def test_duplicate_history_survives_a_restart(embedded_settings, engine_url) -> None:
    settings = embedded_settings.model_copy(update={"database_url": engine_url})
    camera = f"cam-{uuid.uuid4().hex[:6]}"
    original = scene(seed=31)
    adapters = build_adapters(settings)
    await adapters.start()
    await adapters.bus.start()
    first_id = await upload(adapters, encode_image(original), camera)
    kept = await check_frame(
        await ingested_event(adapters, first_id), quality_deps(adapters, adapters.settings.quality)
    )
    assert isinstance(kept, frames_pb2.FrameChecked)
    bus, store = adapters.bus, adapters.store
    adapters.close()

    # A new process: fresh engine and registry, same database and store.
    restarted = build_adapters(settings, bus=bus, store=store, engine=make_engine(settings.sql_url))
    await restarted.start()
    near_id = await upload(restarted, encode_image(original.resize((480, 270))), camera)
    verdict = await check_frame(
        await ingested_event(restarted, near_id), quality_deps(restarted, restarted.settings.quality)
    )
    restarted.close()
    assert list(verdict.reasons) == [REASON.REJECT_REASON_NEAR_DUPLICATE]
    assert verdict.duplicate_of == first_id


async def test_a_replica_sees_what_another_replica_kept(adapters) -> None:
    """Two quality processes on one database: the second's index catches up from SQL."""
    original = scene(seed=35)
    one, two = quality_deps(adapters, adapters.settings.quality), quality_deps(adapters, adapters.settings.quality)
    first_id = await upload(adapters, encode_image(original))
    await check_frame(await ingested_event(adapters, first_id), two)  # two builds its index now
    second_id = await upload(adapters, encode_image(scene(seed=36)))
    await check_frame(await ingested_event(adapters, second_id), one)  # kept by one
    near_id = await upload(adapters, encode_image(scene(seed=36), quality=30))
    verdict = await check_frame(await ingested_event(adapters, near_id), two)
    assert verdict.duplicate_of == second_id


@pytest.mark.parametrize(("scope", "second_verdict"), [(DedupScope.CAMERA, "checked"), (DedupScope.GLOBAL, "exact")])
async def test_duplicate_scope(embedded_settings, scope, second_verdict) -> None:
    adapters = build_adapters(
        embedded_settings.model_copy(
            update={"quality": embedded_settings.quality.model_copy(update={"dedup_scope": scope})}
        )
    )
    await adapters.start()
    await adapters.bus.start()
    data = encode_image(scene(seed=41))
    deps = quality_deps(adapters, adapters.settings.quality)
    first = await check_frame(await ingested_event(adapters, await upload(adapters, data, "cam-a")), deps)
    second = await check_frame(await ingested_event(adapters, await upload(adapters, data, "cam-b")), deps)
    adapters.close()
    assert isinstance(first, frames_pb2.FrameChecked)
    if second_verdict == "checked":
        assert isinstance(second, frames_pb2.FrameChecked)
    else:
        assert list(second.reasons) == [REASON.REJECT_REASON_EXACT_DUPLICATE]
        assert second.duplicate_of == first.frame_id


async def test_malformed_records_go_to_the_dead_letter_topic_with_the_reason(adapters) -> None:
    good = frames_pb2.FrameIngested(
        frame_id="f-1", camera_id="cam-1", object_key="frames/../../etc/passwd", sha256="0" * 64
    )
    key, value, headers = encode(good)
    async with running(adapters, ["quality"]):
        await adapters.bus.publish(FRAMES_INGESTED.name, "cam-1", b"\xff\x00 not protobuf", ())
        await adapters.bus.publish(FRAMES_INGESTED.name, key, value, headers)
        dlq = FRAMES_INGESTED.dlq
        await eventually(lambda: len(adapters.bus.records(dlq)) == 2, what="two dead letters")
    errors = sorted(dict(record.headers)[DLQ_ERROR].decode() for record in adapters.bus.records(dlq))
    assert "MalformedMessageError" in errors[0]
    assert "invalid object key" in errors[0] or "invalid object key" in errors[1]
    assert any("not a valid framesift.v1.FrameIngested" in error for error in errors)
    assert verdicts(adapters.bus) == {}


async def test_a_missing_object_is_dead_lettered_after_retries_and_the_next_frame_goes_on(adapters) -> None:
    missing = frames_pb2.FrameIngested(
        frame_id=str(uuid.uuid4()), camera_id="cam-1", object_key="frames/cam-1/ab/gone.jpg", sha256="ab" * 32
    )
    async with running(adapters, ["ingest", "quality"]):
        await EventPublisher(adapters.bus).publish(missing)
        next_id = await upload(adapters, encode_image(scene(seed=51)))
        await eventually(lambda: next_id in verdicts(adapters.bus), what="the next frame's verdict")
        await eventually(lambda: adapters.bus.records(FRAMES_INGESTED.dlq), what="dead letter")
    [dead] = adapters.bus.records(FRAMES_INGESTED.dlq)
    assert "gone.jpg" in dict(dead.headers)[DLQ_ERROR].decode()
    assert dict(dead.headers)["framesift-attempts"] == b"2"


class FlakyStore:
    """FAKE: the local store cannot be made unreachable, so this one is, for `failures` reads."""

    def __init__(self, store, failures: int) -> None:
        self._store = store
        self.failures = failures

    async def get(self, key: str) -> bytes:
        if self.failures > 0:
            self.failures -= 1
            raise StoreUnavailableError("object store unreachable (simulated)")
        return await self._store.get(key)

    def __getattr__(self, name):
        return getattr(self._store, name)


async def test_store_outage_is_retried_without_dead_lettering(embedded_settings) -> None:
    plain = build_adapters(embedded_settings)
    flaky = FlakyStore(plain.store, failures=0)
    adapters = build_adapters(embedded_settings, store=flaky, engine=plain.engine)
    await adapters.start()
    async with running(adapters, ["ingest", "quality"]):
        flaky.failures = 6  # more than max_attempts: an outage must not use up a frame's attempts
        frame_id = await upload(adapters, encode_image(scene(seed=61)))
        await eventually(lambda: frame_id in verdicts(adapters.bus), what="verdict after the outage")
    adapters.close()
    assert flaky.failures == 0
    assert adapters.bus.records(FRAMES_INGESTED.dlq) == []


async def test_store_outage_surfaces_as_retryable(adapters) -> None:
    frame_id = await upload(adapters, encode_image(scene(seed=63)))
    deps = quality_deps(adapters, adapters.settings.quality)
    deps.store = FlakyStore(adapters.store, failures=1)
    event = await ingested_event(adapters, frame_id)
    with pytest.raises(RetryableError, match="unreachable"):
        await check_frame(event, deps)
    assert isinstance(await check_frame(event, deps), frames_pb2.FrameChecked)


async def test_bytes_that_do_not_match_the_announced_hash_are_refused(adapters) -> None:
    frame_id = await upload(adapters, encode_image(scene(seed=71)))
    event = await ingested_event(adapters, frame_id)
    event.sha256 = "f" * 64
    with pytest.raises(ValueError, match="does not hold the bytes"):
        await check_frame(event, quality_deps(adapters, adapters.settings.quality))


async def test_registry_record_is_idempotent_under_a_race(adapters) -> None:
    registry = FrameRegistry(adapters.engine)
    row = dict(frame_id="race", camera_id="cam-1", scope="cam-1", sha256="a" * 64, phashes=b"", kept=True)
    first = registry.record(QualityFrame(**row, event_type="framesift.v1.FrameChecked", event=b"1", decided_at=_now()))
    second = registry.record(QualityFrame(**row, event_type="framesift.v1.FrameChecked", event=b"2", decided_at=_now()))
    assert first.id == second.id
    assert second.event == b"1"


def _now():
    from datetime import UTC, datetime

    return datetime.now(UTC)


async def judge_one(adapters, deps, image_bytes: bytes, camera: str):
    return await check_frame(await ingested_event(adapters, await upload(adapters, image_bytes, camera)), deps)


async def test_odd_size_follows_each_cameras_usual_size_across_a_restart(embedded_settings, engine_url) -> None:
    settings = embedded_settings.model_copy(update={"database_url": engine_url})
    big, small = f"cam-{uuid.uuid4().hex[:6]}", f"cam-{uuid.uuid4().hex[:6]}"
    adapters = build_adapters(settings)
    await adapters.start()
    await adapters.bus.start()
    deps = quality_deps(adapters, adapters.settings.quality)
    # The first frames of a new camera: no usual size yet, so a thumbnail is only judged absolutely.
    early = await judge_one(adapters, deps, encode_image(scene(160, 90, seed=70)), big)
    assert isinstance(early, frames_pb2.FrameChecked)
    for i in range(settings.quality.usual_size_min_frames):
        assert isinstance(
            await judge_one(adapters, deps, encode_image(scene(seed=71 + i)), big), frames_pb2.FrameChecked
        )
        small_frame = await judge_one(adapters, deps, encode_image(scene(160, 120, seed=90 + i)), small)
        assert isinstance(small_frame, frames_pb2.FrameChecked)
    bus, store = adapters.bus, adapters.store
    adapters.close()

    # Another process on the same database knows each camera's usual size.
    restarted = build_adapters(settings, bus=bus, store=store, engine=make_engine(settings.sql_url))
    await restarted.start()
    deps = quality_deps(restarted, restarted.settings.quality)
    thumbnail = await judge_one(restarted, deps, encode_image(scene(160, 90, seed=110)), big)
    strip = await judge_one(restarted, deps, encode_image(scene(640, 120, seed=111)), big)
    usual_small = await judge_one(restarted, deps, encode_image(scene(160, 120, seed=112)), small)
    restarted.close()
    assert list(thumbnail.reasons) == [REASON.REJECT_REASON_ODD_SIZE]
    assert list(strip.reasons) == [REASON.REJECT_REASON_ODD_SIZE]
    assert isinstance(usual_small, frames_pb2.FrameChecked)


async def test_a_cameras_usual_size_follows_a_change_of_resolution(adapters) -> None:
    """Counts are halved past the window, so the new resolution becomes the usual one."""
    limits = adapters.settings.quality.model_copy(update={"usual_size_min_frames": 4})
    registry = FrameRegistry(adapters.engine, size_window=10)
    hd, sd = FrameSize(1920, 1080), FrameSize(640, 360)
    with registry.unit() as session:
        for size in [hd] * 9 + [sd] * 12:
            registry.observe_size("cam-switch", size, limits, session)
        session.commit()
    with registry.unit() as session:
        assert registry.usual_size("cam-switch", limits, session) == sd
        total = session.exec(
            select(func.sum(QualitySourceSize.frames)).where(QualitySourceSize.camera_id == "cam-switch")
        ).one()
    assert total <= 10


async def test_a_copy_of_a_rejected_frame_names_it(adapters) -> None:
    deps = quality_deps(adapters, adapters.settings.quality)
    night = scaled_luma(scene(seed=120), 0.15)
    dark = await judge_one(adapters, deps, encode_image(night), "cam-night")
    copy = await judge_one(adapters, deps, encode_image(night, quality=40), "cam-night")
    assert list(dark.reasons) == [REASON.REJECT_REASON_DARK]
    assert list(copy.reasons) == [REASON.REJECT_REASON_DARK, REASON.REJECT_REASON_NEAR_DUPLICATE]
    assert copy.duplicate_of == dark.frame_id
