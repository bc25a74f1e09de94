"""Hostile uploads against a real `framesift run ingest` process: whatever the capture time, body or
camera id, no answer is a 5xx and no object is stored without its frame being announced."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.images import jpeg
from tests.support.servers import free_port
from tests.support.waiting import eventually_sync

FRAMESIFT = [sys.executable, "-m", "framesift"]


class IngestProcess:
    def __init__(self, data: Path) -> None:
        self.data = data
        self.env = {
            **os.environ,
            "FRAMESIFT_DATA_DIR": str(data),
            "FRAMESIFT_HTTP_PORT": str(free_port()),
            "FRAMESIFT_GRPC_PORT": str(free_port()),
            "FRAMESIFT_LOG_LEVEL": "WARNING",
        }
        key = subprocess.run(
            [*FRAMESIFT, "cameras", "add", "cam-1"], env=self.env, capture_output=True, text=True, check=True
        ).stdout.split()[-1]
        self.process = subprocess.Popen([*FRAMESIFT, "run", "ingest"], env=self.env, stdout=subprocess.DEVNULL)
        url = f"http://127.0.0.1:{self.env['FRAMESIFT_HTTP_PORT']}"
        self.client = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=30)
        eventually_sync(lambda: self.process.poll() is not None or self._ready(), timeout=60, what="ingest")
        assert self.process.poll() is None

    def _ready(self) -> bool:
        try:
            return self.client.get("/readyz", timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    def stop(self) -> int | None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        self.client.close()
        return self.process.wait(timeout=60)


@pytest.fixture(scope="module")
def ingest(tmp_path_factory):
    process = IngestProcess(tmp_path_factory.mktemp("hostile") / "data")
    yield process
    process.stop()


def announced_and_stored(data: Path) -> tuple[set[str], set[str]]:
    """After the process stopped: object keys announced on frames.ingested, and those in the store."""
    from framesift.app.registry import build_adapters
    from framesift.app.settings import Settings
    from framesift.contracts.codec import decode
    from framesift.contracts.topics import FRAMES_INGESTED

    async def read() -> set[str]:
        adapters = build_adapters(Settings(data_dir=data), services=[])
        await adapters.bus.start()
        try:
            return {
                decode(FRAMES_INGESTED, r.value, r.headers).object_key
                for r in adapters.bus.records(FRAMES_INGESTED.name)
            }
        finally:
            await adapters.bus.stop()
            adapters.close()

    objects = data / "objects"
    stored = {str(p.relative_to(objects)) for p in objects.rglob("*") if p.is_file()} if objects.exists() else set()
    return asyncio.run(read()), stored


capture_times = st.one_of(
    st.none(),
    st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31), timezones=st.timezones()).map(
        lambda d: d.isoformat()
    ),
    st.integers(min_value=-(10**14), max_value=10**14).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(str),
    st.text(max_size=40),
)
bodies = st.one_of(st.binary(max_size=2048), st.integers(0, 255).map(lambda c: jpeg(color=(c, 40, 90))))
cameras = st.one_of(st.just("cam-1"), st.text(max_size=20))


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(captured_at=capture_times, body=bodies, camera=cameras)
def test_no_upload_answers_5xx(ingest, captured_at, body, camera) -> None:
    client = ingest.client
    params = {"captured_at": captured_at} if captured_at is not None else None
    path = f"/v1/cameras/{quote(camera, safe='') or 'x'}/frames"  # any text, percent-encoded as a client would
    single = client.post(path, content=body, params=params)
    assert single.status_code < 500, single.text
    assert single.headers["content-type"].startswith(("application/json", "application/problem+json"))
    batch = client.post(f"{path}:batch", files=[("frames", ("f.jpg", body, "image/jpeg"))])
    assert batch.status_code < 500, batch.text


def test_times_that_cannot_be_stored_are_refused_by_name(ingest) -> None:
    client = ingest.client
    frame = jpeg(color=(3, 200, 9))
    for bad in ("0001-01-01T00:00:00+01:00", "1700000000000", "yesterday", "nan"):
        answer = client.post("/v1/cameras/cam-1/frames", content=frame, params={"captured_at": bad})
        assert answer.status_code == 422, (bad, answer.text)
        assert answer.json()["code"] == "invalid_captured_at"
        assert "captured_at" in answer.json()["detail"]
    seconds = client.post("/v1/cameras/cam-1/frames", content=frame, params={"captured_at": "1795593600"})
    assert seconds.status_code == 201  # epoch seconds, read as seconds whatever their size


def test_every_stored_object_was_announced(ingest) -> None:
    """Last in this module, after the uploads above: stop the process, then compare the store's
    objects with the frames announced on the durable bus."""
    assert ingest.stop() == 0  # SIGTERM: a clean stop
    announced, stored = announced_and_stored(ingest.data)
    assert announced  # the valid uploads above were announced
    assert stored <= announced, f"objects without an announced frame: {sorted(stored - announced)[:5]}"
