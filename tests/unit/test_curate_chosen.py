"""The chosen frames' vectors in memory: novelty's nearest neighbours without a Qdrant filter."""

from __future__ import annotations

import asyncio
import uuid

import numpy as np
import pytest
from qdrant_client import QdrantClient, models

from framesift.services.curate import chosen as chosen_module
from framesift.services.curate.chosen import ChosenVectors


def unit_rows(count: int, dims: int = 24, seed: int = 0) -> np.ndarray:
    rows = np.random.default_rng(seed).normal(size=(count, dims)).astype(np.float32)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


class Store:
    """Points in a real Qdrant (local mode, in memory), fetched by id as curate fetches them; it
    records which ids were asked for."""

    def __init__(self, vectors: dict[str, np.ndarray]) -> None:
        self.client = QdrantClient(":memory:")
        dims = len(next(iter(vectors.values()))) if vectors else 4
        self.client.create_collection(
            "frames", vectors_config=models.VectorParams(size=dims, distance=models.Distance.COSINE)
        )
        self.ids = {name: str(uuid.uuid5(uuid.NAMESPACE_URL, name)) for name in vectors}
        if vectors:
            self.client.upsert(
                "frames",
                [
                    models.PointStruct(id=self.ids[n], vector=v.tolist(), payload={"name": n})
                    for n, v in vectors.items()
                ],
            )
        self.asked: list[list[str]] = []

    async def fetch(self, names: list[str]) -> dict[str, np.ndarray]:
        self.asked.append(list(names))
        await asyncio.sleep(0)  # a yield, as a network call would: lets concurrent callers interleave
        ids = [self.ids[n] for n in names if n in self.ids]
        points = self.client.retrieve("frames", ids, with_vectors=True, with_payload=True)
        return {p.payload["name"]: np.asarray(p.vector, dtype=np.float32) for p in points}


async def test_nearest_matches_a_brute_force_search_and_fetches_only_new_points() -> None:
    rows = unit_rows(60)
    store = Store({f"p{i:02d}": rows[i] for i in range(50)})
    cache = ChosenVectors()
    first = {f"p{i:02d}": f"f{i:02d}" for i in range(30)}
    await cache.sync(first, store.fetch)
    await cache.sync(first, store.fetch)  # the same snapshot: nothing to do
    grown = {**first, **{f"p{i:02d}": f"f{i:02d}" for i in range(30, 50)}, "p-gone": "f-gone"}
    await cache.sync(grown, store.fetch)
    assert store.asked == [sorted(first), sorted(set(grown) - set(first))]
    assert len(cache) == 50  # "p-gone" is not in Qdrant: it cannot be a neighbour

    queries = list(rows[50:])
    found = cache.nearest(queries, limit=3, exclude={"p07"})
    for query, hits in zip(queries, found, strict=True):
        similarity = rows[:50] @ query
        similarity[7] = -np.inf
        best = np.argsort(-similarity)[:3]
        assert [frame for frame, _ in hits] == [f"f{i:02d}" for i in best]
        assert [s for _, s in hits] == pytest.approx(similarity[best], abs=1e-6)


async def test_equal_similarities_go_to_the_lower_frame_id_whatever_the_fetch_order() -> None:
    vector = unit_rows(1)[0]
    store = Store({"a": vector, "b": vector, "c": -vector})
    later_first = ChosenVectors()
    await later_first.sync({"b": "frame-1"}, store.fetch)
    await later_first.sync({"b": "frame-1", "a": "frame-2", "c": "frame-0"}, store.fetch)
    assert later_first.nearest([vector], limit=1) == [[("frame-1", pytest.approx(1.0))]]
    assert [f for f, _ in later_first.nearest([vector], limit=3)[0]] == ["frame-1", "frame-2", "frame-0"]


async def test_big_windows_are_compared_in_blocks_with_the_same_answers(monkeypatch) -> None:
    rows = unit_rows(300, seed=3)
    store = Store({f"p{i:03d}": rows[i] for i in range(200)})
    cache = ChosenVectors()
    await cache.sync({f"p{i:03d}": f"f{i:03d}" for i in range(200)}, store.fetch)
    whole = cache.nearest(list(rows[200:]), limit=1)
    monkeypatch.setattr(chosen_module, "_BLOCK", 400)  # two queries per block
    blocked = cache.nearest(list(rows[200:]), limit=1)
    # The same neighbours; the similarities may differ in the last float32 bits, since a BLAS
    # kernel sums a different block size in a different order.
    assert [[frame for frame, _ in hits] for hits in blocked] == [[frame for frame, _ in hits] for hits in whole]
    assert [[s for _, s in hits] for hits in blocked] == [
        [pytest.approx(s, abs=1e-6) for _, s in hits] for hits in whole
    ]


async def test_nothing_chosen_or_everything_excluded_finds_nothing() -> None:
    cache = ChosenVectors()
    query = unit_rows(1)[0]
    assert cache.nearest([query], limit=1) == [[]]
    await cache.sync({"p": "f"}, Store({"p": query}).fetch)
    assert cache.nearest([query], limit=1, exclude={"p"}) == [[]]
    await cache.sync({}, Store({}).fetch)  # a snapshot without it (a fresh database): forgotten
    assert len(cache) == 0
    assert cache.nearest([query], limit=1) == [[]]


async def test_concurrent_syncs_fetch_each_point_once() -> None:
    rows = unit_rows(10, seed=5)
    store = Store({f"p{i}": rows[i] for i in range(10)})
    cache = ChosenVectors()
    snapshot = {f"p{i}": f"f{i}" for i in range(10)}
    await asyncio.gather(*(cache.sync(dict(snapshot), store.fetch) for _ in range(5)))
    assert len(cache) == 10
    assert store.asked == [sorted(snapshot)]  # the other four found everything held
