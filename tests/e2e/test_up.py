"""`framesift up` as a user runs it: a real process, real HTTP, SIGTERM to stop."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.support.images import jpeg
from tests.support.servers import free_port
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


def healthy(url: str) -> bool:
    try:
        return httpx.get(url + "/healthz", timeout=1).status_code == 200
    except httpx.TransportError:
        return False


def test_up_serves_uploads_and_stops_cleanly_on_sigterm(env: dict[str, str], tmp_path: Path) -> None:
    created = subprocess.run(
        [*FRAMESIFT, "cameras", "add", "cam-1"], env=env, capture_output=True, text=True, check=True
    )
    key = created.stdout.strip().split()[-1]
    log = (tmp_path / "up.log").open("w")
    process = subprocess.Popen([*FRAMESIFT, "up"], env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{env['FRAMESIFT_HTTP_PORT']}"
    try:
        eventually_sync(lambda: process.poll() is not None or healthy(url), timeout=60, what="framesift up")
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
