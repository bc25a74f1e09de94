"""Qdrant's local mode is one process per folder: a second service process on the same folder
(embed and curate run apart on a broker) fails its start with a message that says what to do,
instead of dead-lettering every frame it would have embedded."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

from tests.support.servers import free_port
from tests.support.waiting import eventually_sync

FRAMESIFT = [sys.executable, "-m", "framesift"]


def test_a_second_process_on_the_local_qdrant_folder_fails_at_once_saying_why(tmp_path, kafka_bootstrap) -> None:
    env = {
        **os.environ,
        "FRAMESIFT_DATA_DIR": str(tmp_path / "data"),
        "FRAMESIFT_BUS": "kafka",
        "FRAMESIFT_KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "FRAMESIFT_KAFKA_IDEMPOTENCE": "false",
        "FRAMESIFT_LOG_LEVEL": "WARNING",
    }
    ports = {"FRAMESIFT_HTTP_PORT": str(free_port()), "FRAMESIFT_GRPC_PORT": str(free_port())}
    log = (tmp_path / "embed.log").open("w")
    embed = subprocess.Popen([*FRAMESIFT, "run", "embed"], env={**env, **ports}, stdout=log, stderr=subprocess.STDOUT)
    try:
        eventually_sync(
            lambda: embed.poll() is not None or (tmp_path / "data" / "qdrant" / ".lock").exists(),
            timeout=60,
            what="embed to open its local Qdrant folder",
        )
        assert embed.poll() is None, (tmp_path / "embed.log").read_text()
        other = {"FRAMESIFT_HTTP_PORT": str(free_port()), "FRAMESIFT_GRPC_PORT": str(free_port())}
        curate = subprocess.run(
            [*FRAMESIFT, "run", "curate"], env={**env, **other}, capture_output=True, text=True, timeout=60
        )
    finally:
        embed.send_signal(signal.SIGTERM)
        embed.wait(timeout=60)
        log.close()
    assert curate.returncode == 1
    assert "local mode is one process per folder" in curate.stderr
    assert "FRAMESIFT_QDRANT_URL" in curate.stderr
