"""`framesift demo` as a user runs it (the README's main job): a real process on real footage."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import httpx

from tests.support.servers import answers_ok, free_port
from tests.support.waiting import eventually_sync

FRAMESIFT = [sys.executable, "-m", "framesift"]


def test_demo_curates_real_footage_then_serves_queries_until_sigterm(tmp_path: Path) -> None:
    http_port, grpc_port = free_port(), free_port()
    env = {
        **os.environ,
        "FRAMESIFT_DATA_DIR": str(tmp_path / "data"),
        "FRAMESIFT_HTTP_PORT": str(http_port),
        "FRAMESIFT_GRPC_PORT": str(grpc_port),
    }
    log = (tmp_path / "demo.log").open("w+")
    process = subprocess.Popen([*FRAMESIFT, "demo", "--budget", "6"], env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{http_port}"
    try:
        eventually_sync(lambda: process.poll() is not None or answers_ok(url), timeout=240, what="the demo to serve")
        assert process.poll() is None, Path(log.name).read_text()
        printed = Path(log.name).read_text()
        for reason in ("corrupt", "dark", "blurry", "overexposed", "near_duplicate"):
            assert f"  {reason}" in printed, printed
        assert "selected   6 for labelling" in printed
        assert "tasks      6 created for labelling" in printed
        assert re.search(r"review     \d of 6 sampled at rate 0.1", printed), printed

        stats = httpx.get(url + "/v1/curation/stats", timeout=10).json()
        assert int(stats["selected"]) == 6
        assert int(stats["frames_ingested"]) > 100
        remote = subprocess.run(
            [*FRAMESIFT, "query", "status:selected sort:-priority", "--grpc", f"127.0.0.1:{grpc_port}", "--json"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        remote_table = subprocess.run(
            [*FRAMESIFT, "query", "status:selected sort:-priority", "--grpc", f"127.0.0.1:{grpc_port}"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        ).stdout
        chosen = [json.loads(line) for line in remote.stdout.splitlines()]
        assert len(chosen) == 6
        assert {c["frame"]["camera_id"] for c in chosen} <= {"street-bikes", "garden-bunny", "car-phone"}
        assert all(c["decision"].startswith("chosen #") for c in chosen)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)
    assert process.returncode == 0, Path(log.name).read_text()

    # After it stopped, the same state is readable without a server.
    table = subprocess.run(
        [*FRAMESIFT, "query", "status:rejected reason:corrupt"], env=env, capture_output=True, text=True, check=True
    )
    assert table.stdout.splitlines()[0].startswith("frame")
    assert len(table.stdout.splitlines()) > 1
    assert all("corrupt" in line for line in table.stdout.splitlines()[1:])
    local_table = subprocess.run(
        [*FRAMESIFT, "query", "status:selected sort:-priority"], env=env, capture_output=True, text=True, check=True
    ).stdout
    assert local_table == remote_table  # one table, whether it comes from the read model or over gRPC
    assert [line for line in (printed + local_table).splitlines() if len(line) > 100] == []
    # Progress while it works, then the figures, then what to do next.
    assert printed.index("uploading frames") < printed.index("uploads    ") < printed.index("next:")
    assert "framesift query 'status:selected sort:-priority'" in printed.split("next:")[1]
