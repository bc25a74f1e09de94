"""Profiling aid (not a benchmark): 8 HTTP labellers for a while on the distributed stack."""

import asyncio
import tempfile
from pathlib import Path

from bench.ingest import distributed_stack
from bench.label import http_round_trips, seed_queue

if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as tmp, distributed_stack(Path(tmp)) as (settings, _):
        seed_queue(settings.sql_url, 5000)
        rate, _ = asyncio.run(http_round_trips(settings, 8, 12))
        print(f"{rate:.0f}/s")
