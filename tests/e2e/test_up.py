"""`framesift up` as a user runs it: a real process, real HTTP, SIGTERM to stop."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import httpx
import pytest

from tests.support.images import jpeg
from tests.support.servers import answers_ok, free_port
from tests.support.waiting import eventually_sync

FRAMESIFT = [sys.executable, "-m", "framesift"]


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {
        **os.environ,
        "FRAMESIFT_DATA_DIR": str(tmp_path / "data"),
        "FRAMESIFT_HTTP_PORT": str(free_port()),
        "FRAMESIFT_GRPC_PORT": str(free_port()),
    }


def test_up_serves_uploads_and_stops_cleanly_on_sigterm(env: dict[str, str], tmp_path: Path) -> None:
    created = subprocess.run(
        [*FRAMESIFT, "cameras", "add", "cam-1"], env=env, capture_output=True, text=True, check=True
    )
    key = created.stdout.strip().split()[-1]
    log = (tmp_path / "up.log").open("w")
    process = subprocess.Popen([*FRAMESIFT, "up"], env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{env['FRAMESIFT_HTTP_PORT']}"
    try:
        eventually_sync(
            lambda: process.poll() is not None or answers_ok(url, "/healthz"), timeout=60, what="framesift up"
        )
        assert process.poll() is None, (tmp_path / "up.log").read_text()
        auth = {"Authorization": f"Bearer {key}"}
        first = httpx.post(f"{url}/v1/cameras/cam-1/frames", content=jpeg(), headers=auth)
        assert first.status_code == 201
        assert httpx.post(f"{url}/v1/cameras/cam-1/frames", content=jpeg(), headers=auth).status_code == 200

        folder = tmp_path / "shots"
        folder.mkdir()
        (folder / "0.jpg").write_bytes(jpeg())  # the frame uploaded above
        for i in (1, 2):
            (folder / f"{i}.jpg").write_bytes(jpeg(color=(60 * i, 20, 20)))
        uploaded = subprocess.run(
            [*FRAMESIFT, "ingest", str(folder), "--camera", "cam-1", "--url", url],
            env={**env, "FRAMESIFT_API_KEY": key},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert uploaded.returncode == 0, uploaded.stderr
        assert "created   2" in uploaded.stdout
        assert "repeats   1" in uploaded.stdout
    finally:
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=60)
        log.close()
    assert code == 0, (tmp_path / "up.log").read_text()
    assert '"msg": "stopped"' in (tmp_path / "up.log").read_text()


def verdicts(data_dir: Path) -> dict[str, bool]:
    """frame_id -> kept, as quality recorded them in the embedded SQLite database."""
    import sqlite3

    with sqlite3.connect(data_dir / "framesift.db") as db:
        try:
            return dict(db.execute("SELECT frame_id, kept FROM quality_frames").fetchall())
        except sqlite3.OperationalError:  # the table does not exist yet
            return {}


def test_a_frame_announced_before_a_stop_is_judged_by_the_next_up(env: dict[str, str], tmp_path: Path) -> None:
    """ingest published, then the process ended before quality ran: nothing is lost."""
    import asyncio

    from framesift.app.registry import build_adapters
    from framesift.app.settings import Settings
    from framesift.services.ingest.bootstrap import ingest_deps
    from framesift.services.ingest.handlers import UploadFrame, ingest_frame
    from tests.support.scenes import encode, scene

    data_dir = Path(env["FRAMESIFT_DATA_DIR"])

    async def announce_only() -> str:
        adapters = build_adapters(Settings(data_dir=data_dir))
        await adapters.start()
        await adapters.bus.start()
        accepted = await ingest_frame(
            UploadFrame("cam-1", encode(scene(seed=9))), ingest_deps(adapters, adapters.settings.ingest)
        )
        await adapters.bus.stop()  # no consumer ran in this process
        adapters.close()
        return accepted.frame_id

    frame_id = asyncio.run(announce_only())
    assert verdicts(data_dir) == {}
    log = (tmp_path / "up.log").open("w")
    process = subprocess.Popen([*FRAMESIFT, "up"], env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        judged = eventually_sync(lambda: verdicts(data_dir), timeout=60, what="the verdict after restart")
    finally:
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=60)
        log.close()
    assert judged == {frame_id: 1}
    assert code == 0, (tmp_path / "up.log").read_text()


def test_a_live_frame_says_when_it_is_decided_and_curate_flush_decides_it_now(
    env: dict[str, str], tmp_path: Path
) -> None:
    """framesift up: a frame captured now waits minutes, not an hour, says until when, and
    `framesift curate flush` (the operator's token from the data dir) decides it at once."""
    import time

    from tests.support.scenes import encode, scene

    key = subprocess.run(
        [*FRAMESIFT, "cameras", "add", "gate-3"], env=env, capture_output=True, text=True, check=True
    ).stdout.split()[-1]
    log = (tmp_path / "up.log").open("w")
    process = subprocess.Popen([*FRAMESIFT, "up"], env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{env['FRAMESIFT_HTTP_PORT']}"
    try:
        eventually_sync(
            lambda: process.poll() is not None or answers_ok(url, "/healthz"), timeout=60, what="framesift up"
        )
        sent = time.time()
        upload = httpx.post(
            f"{url}/v1/cameras/gate-3/frames",
            content=encode(scene(seed=31)),
            headers={"Authorization": f"Bearer {key}"},
        )
        assert upload.status_code == 201, upload.text
        frame = upload.json()["frame_id"]

        def waiting() -> dict | None:
            record = httpx.get(f"{url}/v1/curation/frames/{frame}").json()
            return record if record.get("status") == "FRAME_STATUS_EMBEDDED" else None

        record = eventually_sync(waiting, timeout=60, what="the frame to wait for its window")
        due = datetime.fromisoformat(record["decision_due"].replace("Z", "+00:00")).timestamp()
        assert sent < due <= sent + 300 + 30 + 1  # a 5-minute window and 30 s of lateness, at most
        notes = httpx.get(f"{url}/v1/curation/frames/{frame}/explain").json()["notes"]
        assert any("due at" in note and "framesift curate flush" in note for note in notes), notes

        unauthorised = httpx.post(f"{url}/v1/curation/windows:flush")
        assert unauthorised.status_code == 401
        assert unauthorised.json()["code"] == "unauthenticated"
        flushed = subprocess.run([*FRAMESIFT, "curate", "flush"], env=env, capture_output=True, text=True, timeout=60)
        assert flushed.returncode == 0, flushed.stderr
        assert "1 frames decided" in flushed.stdout
        status = httpx.get(f"{url}/v1/curation/frames/{frame}").json()["status"]
        assert status in ("FRAME_STATUS_SELECTED", "FRAME_STATUS_SKIPPED")
        again = subprocess.run([*FRAMESIFT, "curate", "flush"], env=env, capture_output=True, text=True, timeout=60)
        assert "nothing was waiting" in again.stdout
    finally:
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=60)
        log.close()
    assert code == 0, (tmp_path / "up.log").read_text()


@pytest.mark.parametrize(("busy", "setting"), [("FRAMESIFT_HTTP_PORT", "HTTP"), ("FRAMESIFT_GRPC_PORT", "gRPC")])
def test_a_busy_port_is_one_clear_line_naming_the_setting(env: dict[str, str], busy: str, setting: str) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", int(env[busy])))
        taken.listen(1)
        started = subprocess.run([*FRAMESIFT, "up"], env=env, capture_output=True, text=True, timeout=60)
    assert started.returncode == 1
    output = (started.stdout + started.stderr).strip()
    assert output.splitlines() == [
        f"framesift: {setting} port 127.0.0.1:{env[busy]} is in use " + f"(Address already in use; set {busy})"
    ], output
