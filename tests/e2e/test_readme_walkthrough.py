"""README's walk-through, pasted line by line into a fresh shell: the lines as written, run by bash
in a scratch folder whose .venv is this checkout's, inside a network namespace of its own (so the
default ports 8080 and 50051 are free whatever else runs on the machine)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

from tests.support.servers import unavailable

ROOT = Path(__file__).resolve().parents[2]


def walkthrough() -> str:
    section = (ROOT / "README.md").read_text().split("## Using it", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```bash\n(.+?)\n```", section, flags=re.S)[0]


def test_the_readme_walkthrough_works_line_by_line(tmp_path: Path) -> None:
    if shutil.which("unshare") is None or subprocess.run(["unshare", "-n", "true"], check=False).returncode:
        unavailable("unshare -n (a network namespace of its own) is not allowed here")
    (tmp_path / ".venv").symlink_to(Path(sys.prefix))
    script = "set -e\nip link set lo up\n" + walkthrough() + "\nwait\n"
    done = subprocess.run(
        ["unshare", "-n", "bash", "-c", script],
        cwd=tmp_path,
        env={"PATH": "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin", "HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=240,
    )
    log = (tmp_path / "framesift.log").read_text() if (tmp_path / "framesift.log").exists() else ""
    assert done.returncode == 0, done.stdout + done.stderr + log
    assert '"frame_id"' in done.stdout  # the upload's answer
    assert "1 frames decided" in done.stdout  # curate flush
    rows = [line for line in done.stdout.splitlines() if "gate-3" in line and "frame" not in line[:5]]
    assert any(status in rows[-1] for status in (" selected ", " skipped ")), done.stdout
    assert '"msg": "stopped"' in log  # kill %1 stopped it cleanly
