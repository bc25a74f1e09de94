"""The framesift command as a person uses it (in-process via click's runner, real SQLite and files)."""

from __future__ import annotations

import itertools

import pytest
from click.testing import CliRunner

from framesift.app.cli import main
from framesift.services.ingest.sources import iter_source
from tests.support.images import jpeg, png
from tests.support.video import write_video


@pytest.fixture
def cli(tmp_path, monkeypatch):
    monkeypatch.setenv("FRAMESIFT_DATA_DIR", str(tmp_path / "data"))
    runner = CliRunner()

    def invoke(*args: str):
        return runner.invoke(main, list(args), catch_exceptions=False)

    return invoke


def test_cameras_add_prints_the_key_last_and_stores_only_its_hash(cli, tmp_path) -> None:
    result = cli("cameras", "add", "cam-7")
    assert result.exit_code == 0
    key = result.output.strip().split()[-1]
    assert key.startswith("fsk_")
    assert len(key) > 40
    assert key.encode() not in (tmp_path / "data" / "framesift.db").read_bytes()
    again = cli("cameras", "add", "cam-7")
    assert again.exit_code != 0
    assert "already exists" in again.output
    bad = cli("cameras", "add", "../etc")
    assert bad.exit_code != 0
    assert "invalid camera id" in bad.output


def test_video_is_sampled_at_the_requested_rate(tmp_path) -> None:
    video = write_video(tmp_path / "clip.mp4", seconds=3.0, rate=10)
    items = list(iter_source(video, fps=2))
    assert [item.ref for item in items] == [f"clip.mp4#{ms}" for ms in (0, 500, 1000, 1500, 2000, 2500)]
    assert all(item.data.startswith(b"\xff\xd8\xff") for item in items)
    times = [item.captured_at for item in items]
    assert [(b - a).total_seconds() for a, b in itertools.pairwise(times)] == [0.5] * 5


def test_ingest_folder_and_video_into_the_embedded_pipeline_is_resumable(cli, tmp_path) -> None:
    source = tmp_path / "site"
    (source / "day1").mkdir(parents=True)
    (source / "day1" / "a.jpg").write_bytes(jpeg(color=(10, 10, 10)))
    (source / "day1" / "b.png").write_bytes(png(color=(99, 0, 0)))
    (source / "day1" / "copy-of-a.jpg").write_bytes(jpeg(color=(10, 10, 10)))
    (source / "notes.txt").write_text("not a frame")
    write_video(source / "gate.mp4", seconds=2.0, rate=10)

    unknown = cli("ingest", str(source), "--camera", "cam-9")
    assert unknown.exit_code != 0
    assert "framesift cameras add cam-9" in unknown.output
    assert cli("cameras", "add", "cam-9").exit_code == 0

    first = cli("ingest", str(source), "--camera", "cam-9", "--fps", "2")
    assert first.exit_code == 0, first.output
    assert "created   6" in first.output  # a, b and 4 video frames
    assert "repeats   1" in first.output  # copy-of-a
    assert "not_an_image" in first.output
    stored = list((tmp_path / "data" / "objects" / "frames" / "cam-9").rglob("*.*"))
    assert len(stored) == 6
    # The rest of the embedded pipeline ran in the same process: every frame was judged.
    # a (64x48) and b (32x32) are under the 64 px floor; two of the 96x64 video frames pass.
    assert "quality   kept 2, rejected 4" in first.output
    assert "  odd_size          2" in first.output
    assert "embedded  2" in first.output  # what passed was embedded and selected
    assert "selected  2" in first.output

    resumed = cli("ingest", str(source), "--camera", "cam-9", "--fps", "2")
    assert resumed.exit_code == 0
    assert "skipped   8" in resumed.output
    assert "created   0" in resumed.output
    assert "quality   kept 0, rejected 0" in resumed.output  # this run's verdicts only


def test_ingest_validates_its_options(cli, tmp_path) -> None:
    (tmp_path / "a.jpg").write_bytes(jpeg())
    assert "invalid camera id" in cli("ingest", str(tmp_path / "a.jpg"), "--camera", "BAD/ID").output
    needs_key = cli("ingest", str(tmp_path / "a.jpg"), "--camera", "cam-1", "--url", "http://127.0.0.1:1")
    assert needs_key.exit_code != 0
    assert "--api-key" in needs_key.output


def test_run_refuses_unknown_services(cli) -> None:
    result = cli("run", "nope")
    assert result.exit_code != 0
    assert "unknown service 'nope'" in result.output
    several = cli("run", "embed", "curate", "nope")  # every name is checked before anything starts
    assert several.exit_code != 0
    assert "unknown service 'nope'" in several.output
    assert cli("run").exit_code != 0


def test_cameras_list_and_clear_messages_for_unknown_cameras(cli, tmp_path) -> None:
    assert "no cameras yet" in cli("cameras", "list").output
    cli("cameras", "add", "gate-3")
    cli("cameras", "add", "cam-7")
    listed = cli("cameras", "list").output.splitlines()
    assert [line.split()[0] for line in listed[1:]] == ["cam-7", "gate-3"]
    assert all("active" in line for line in listed[1:])
    assert "fsk_" not in "".join(listed)  # keys are shown once, at creation

    rotate = cli("cameras", "rotate-key", "nobody")
    assert rotate.exit_code != 0
    assert "Error: no camera 'nobody'" in rotate.output  # the message itself, not a KeyError's repr
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "a.jpg").write_bytes(jpeg())
    unknown = cli("ingest", str(tmp_path / "empty"), "--camera", "nobody")
    assert unknown.exit_code != 0
    assert "unknown camera 'nobody'" in unknown.output
    assert "progress is saved" not in unknown.output  # nothing ran: nothing to resume


def test_ingest_reports_its_own_frames_apart_from_earlier_ones_it_decided(cli, tmp_path) -> None:
    """A frame left waiting for its window (framesift up stopped) is decided by the next ingest's
    flush; the report counts this run's frames, and names the earlier one separately."""
    import asyncio

    from framesift.app.registry import build_adapters, downstream_pipeline
    from framesift.app.settings import Settings
    from framesift.services.ingest.bootstrap import ingest_deps
    from framesift.services.ingest.handlers import UploadFrame, ingest_frame
    from tests.support.scenes import encode, scene

    assert cli("cameras", "add", "cam-5").exit_code == 0

    async def leave_one_waiting() -> None:
        adapters = build_adapters(Settings(data_dir=tmp_path / "data"))
        await adapters.start()
        await adapters.bus.start()
        try:
            async with downstream_pipeline(adapters) as pipeline:
                await ingest_frame(
                    UploadFrame("cam-5", encode(scene(seed=77))), ingest_deps(adapters, adapters.settings.ingest)
                )
                await pipeline.drain()  # judged and embedded; its window stays open
        finally:
            await adapters.bus.stop()
            adapters.close()

    asyncio.run(leave_one_waiting())
    folder = tmp_path / "shots"
    folder.mkdir()
    for i in range(2):
        (folder / f"{i}.jpg").write_bytes(encode(scene(seed=300 + i)))
    run = cli("ingest", str(folder), "--camera", "cam-5")
    assert run.exit_code == 0, run.output
    assert "created   2" in run.output
    selected = next(line for line in run.output.splitlines() if line.startswith("selected"))
    assert int(selected.split()[1]) <= 2  # this run's frames only
    assert "and 1 frames of earlier runs, decided now too" in run.output


def test_ingest_of_an_empty_folder_says_so(cli, tmp_path) -> None:
    assert cli("cameras", "add", "cam-6").exit_code == 0
    (tmp_path / "empty" / "day1").mkdir(parents=True)  # folders, but not one file
    result = cli("ingest", str(tmp_path / "empty"), "--camera", "cam-6")
    assert result.exit_code == 1
    assert "no files under" in result.output
