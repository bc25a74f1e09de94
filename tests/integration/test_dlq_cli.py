"""framesift dlq list|show|replay on the embedded default: a frame whose bytes were missing is
dead-lettered by quality; once the bytes are back, a replay gets it judged (and a second replay
changes nothing: handlers are idempotent)."""

from __future__ import annotations

import asyncio
import json

from click.testing import CliRunner

from framesift.app.cli import main
from framesift.app.registry import build_adapters, downstream_pipeline
from framesift.app.settings import Settings
from framesift.bus.events import EventPublisher
from framesift.contracts.codec import decode
from framesift.contracts.topics import FRAMES_CHECKED, FRAMES_INGESTED
from framesift.v1 import frames_pb2
from tests.support.scenes import encode, scene

KEY = "frames/cam-1/ab/abcdef.jpg"


def run(settings: Settings, step):
    async def go():
        adapters = build_adapters(settings.model_copy(update={"max_attempts": 2, "retry_backoff_s": 0.01}))
        await adapters.start()
        await adapters.bus.start()
        try:
            return await step(adapters)
        finally:
            await adapters.bus.stop()
            adapters.close()

    return asyncio.run(go())


def test_dead_letters_are_listed_shown_and_replayed_once_fixed(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("FRAMESIFT_DATA_DIR", str(tmp_path / "data"))
    settings = Settings(data_dir=tmp_path / "data")
    event = frames_pb2.FrameIngested(frame_id="f-missing", camera_id="cam-1", object_key=KEY)

    async def announce_without_bytes(adapters) -> None:
        async with downstream_pipeline(adapters) as pipeline:
            await EventPublisher(adapters.bus).publish(event)
            await adapters.bus.publish(FRAMES_INGESTED.name, "cam-1", b"\x00not an event")
            await pipeline.drain()

    run(settings, announce_without_bytes)
    cli = CliRunner()
    # The read model says so (curate reads the dead-letter topics), instead of "ingested" forever.
    failed = cli.invoke(main, ["query", "failed:true", "--json"])
    assert failed.exit_code == 0, failed.output
    [record] = [json.loads(line) for line in failed.output.splitlines()]
    assert record["frame"]["frame_id"] == "f-missing"
    assert record["failure"].startswith("quality gave up after 2 attempts: ObjectNotFoundError")
    listed = cli.invoke(main, ["dlq", "list", "frames.ingested"])
    assert listed.exit_code == 0, listed.output
    assert "quality" in listed.output
    assert "ObjectNotFoundError" in listed.output or "not found" in listed.output.lower()
    assert "MalformedMessageError" in listed.output
    assert max(len(line) for line in listed.output.splitlines()) <= 100
    where = next(
        line.split()[0] for line in listed.output.splitlines() if "quality" in line and "Malformed" not in line
    )
    shown = cli.invoke(main, ["dlq", "show", "frames.ingested", where])
    assert shown.exit_code == 0, shown.output
    assert '"frame_id": "f-missing"' in shown.output
    assert cli.invoke(main, ["dlq", "show", "frames.ingested", "9:999"]).exit_code != 0
    assert cli.invoke(main, ["dlq", "list", "no.such.topic"]).exit_code != 0

    async def restore_bytes(adapters) -> None:
        await adapters.store.put(KEY, encode(scene(seed=5)), "image/jpeg")

    run(settings, restore_bytes)
    for _ in range(2):  # the second replay is absorbed: quality republishes its stored verdict
        replayed = cli.invoke(main, ["dlq", "replay", "frames.ingested", where])
        assert replayed.exit_code == 0, replayed.output
        assert f"replayed 1 dead letters on frames.ingested: {where}" in replayed.output

    async def judge(adapters) -> list[str]:
        async with downstream_pipeline(adapters) as pipeline:
            await pipeline.drain()
        return [decode(FRAMES_CHECKED, r.value, r.headers).frame_id for r in adapters.bus.records(FRAMES_CHECKED.name)]

    checked = run(settings, judge)
    assert set(checked) == {"f-missing"}  # judged once; the replayed copy got the same verdict
    cleared = cli.invoke(main, ["query", "id:f-missing", "--json"])
    assert json.loads(cleared.output.splitlines()[0]).get("failure", "") == ""  # judged now: no longer failed
    assert cli.invoke(main, ["query", "failed:true", "--json"]).output.strip() == ""
