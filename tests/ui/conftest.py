"""The browser UI against a real server: `framesift demo` curates real footage, then `framesift
up` serves it; Playwright drives Debian's chromium (no browser download). One of each per session."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.servers import answers_ok, free_port, unavailable
from tests.support.waiting import eventually_sync

FRAMESIFT = [sys.executable, "-m", "framesift"]
CHROMIUM = os.environ.get("FRAMESIFT_CHROMIUM", "/usr/bin/chromium")
SCREENSHOTS = Path(os.environ.get("FRAMESIFT_SCREENSHOTS", "test-screenshots"))


@dataclass(frozen=True)
class Served:
    url: str
    labeller_key: str
    second_labeller_key: str
    reviewer_key: str
    operator_token: str


def _key(env: dict[str, str], *args: str) -> str:
    made = subprocess.run([*FRAMESIFT, "label", "labellers", "add", *args], env=env, capture_output=True, text=True)
    assert made.returncode == 0, made.stderr
    return made.stdout.strip().split()[-1]


@pytest.fixture(scope="session")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    folder = tmp_path_factory.mktemp("ui")
    env = {
        **os.environ,
        "FRAMESIFT_DATA_DIR": str(folder / "data"),
        "FRAMESIFT_HTTP_PORT": str(free_port()),
        "FRAMESIFT_GRPC_PORT": str(free_port()),
        "FRAMESIFT_OPERATOR_TOKEN": "ui-test-operator",
        # A new labeller's first task is reviewed, nothing else: one submission waits for the
        # review page, the next one completes at once.
        "FRAMESIFT_LABEL__REVIEW__RATE": "0",
        "FRAMESIFT_LABEL__REVIEW__MIN_PER_STRATUM": "0",
        "FRAMESIFT_LABEL__REVIEW__NEW_LABELLER_TASKS": "1",
    }
    for name in ("FRAMESIFT_BUS", "KAFKA_BOOTSTRAP_SERVERS", "FRAMESIFT_DATABASE_URL"):
        env.pop(name, None)  # the embedded default, as a new user runs it
    demo = subprocess.run([*FRAMESIFT, "demo", "--once"], env=env, capture_output=True, text=True, timeout=300)
    assert demo.returncode == 0, demo.stdout + demo.stderr
    keys = [_key(env, "ana"), _key(env, "ben"), _key(env, "rita", "--reviewer")]
    log = (folder / "up.log").open("w")
    process = subprocess.Popen([*FRAMESIFT, "up"], env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{env['FRAMESIFT_HTTP_PORT']}"
    try:
        eventually_sync(lambda: process.poll() is not None or answers_ok(url), timeout=120, what="framesift up")
        assert process.poll() is None, (folder / "up.log").read_text()
        yield Served(url, *keys, operator_token=env["FRAMESIFT_OPERATOR_TOKEN"])
    finally:
        process.terminate()
        process.wait(timeout=60)


def need_a_browser() -> None:
    """Skip (fail in CI) when Debian's chromium or Playwright is missing."""
    if not Path(CHROMIUM).exists() or shutil.which(CHROMIUM) is None:
        unavailable(f"no chromium at {CHROMIUM} (apt-get install -y chromium)")
    try:
        import playwright  # noqa: F401
    except ImportError:
        unavailable("playwright is not installed (pip install -e '.[dev]')")


@pytest.fixture(scope="module")  # not the session: Playwright's sync API holds an event loop open while it runs
def browser():
    need_a_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield launched
        launched.close()


@pytest.fixture
def page(browser, request):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    opened = context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda error: errors.append(str(error)))
    opened.on("console", lambda message: message.type == "error" and errors.append(message.text))
    yield opened
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    opened.screenshot(path=str(SCREENSHOTS / f"{request.node.name}.png"), full_page=True)
    context.close()
    # A script error is a failure even when the assertions passed (a 4xx the test asked for is not).
    assert not [e for e in errors if "status of 4" not in e], errors
