"""A real Label Studio server as a process: its own venv (it pins a Django stack the project's
venv must not share), offline, bound to 127.0.0.1 on a free port, a fresh data directory.

`.ci/run` installs it into LABEL_STUDIO_VENV (default ~/.cache/framesift/label-studio-1.23);
FRAMESIFT_LABEL_STUDIO_VENV points elsewhere."""

from __future__ import annotations

import os
import secrets
import subprocess
from pathlib import Path

from tests.support.servers import _terminate, answers_ok, free_port
from tests.support.waiting import eventually_sync

DEFAULT_VENV = Path.home() / ".cache" / "framesift" / "label-studio-1.23"


def label_studio_binary() -> Path:
    return Path(os.environ.get("FRAMESIFT_LABEL_STUDIO_VENV", DEFAULT_VENV)) / "bin" / "label-studio"


class LabelStudioServer:
    def __init__(self, data_dir: Path, log_path: Path) -> None:
        self.binary = label_studio_binary()
        self.port = free_port()
        self.data_dir, self.log_path = data_dir, log_path
        self.token = secrets.token_hex(20)  # the legacy API token: 40 hex characters
        self.user = "framesift@example.com"
        self._process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> LabelStudioServer:
        if not self.binary.exists():
            raise RuntimeError(f"no Label Studio at {self.binary} (`.ci/run` installs it there)")
        environment = {
            **os.environ,
            # Webhooks to framesift on 127.0.0.1 (Label Studio refuses loopback addresses otherwise).
            "SSRF_PROTECTION_ENABLED": "false",
            "LATEST_VERSION_CHECK": "false",
            "COLLECT_ANALYTICS": "false",
            "LABEL_STUDIO_ENABLE_LEGACY_API_TOKEN": "true",
        }
        command = [
            str(self.binary), "start", "--no-browser", "--internal-host", "127.0.0.1", "--port", str(self.port),
            "--data-dir", str(self.data_dir), "--username", self.user, "--password", secrets.token_hex(12),
            "--user-token", self.token, "--enable-legacy-api-token",
        ]  # fmt: skip
        log = open(self.log_path, "ab")  # noqa: SIM115 - the process writes to it until stopped
        self._process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=environment)
        # The first start migrates its database: about 25 s here, more on a busy 2-core machine.
        eventually_sync(
            lambda: self._process.poll() is not None or answers_ok(self.url, "/health"),
            timeout=240,
            what="Label Studio's /health",
        )
        if self._process.poll() is not None:
            raise RuntimeError(f"Label Studio exited with {self._process.returncode}; see {self.log_path}")
        return self

    def stop(self) -> None:
        if self._process is not None:
            _terminate(self._process)
