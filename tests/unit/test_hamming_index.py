"""The multi-index Hamming index answers exactly what a linear scan answers."""

from __future__ import annotations

import numpy as np
import pytest

from framesift.services.quality.hamming import HammingIndex, nearest_of, popcount64


def brute_force(hashes: list[int], query: int, radius: int) -> tuple[int, int] | None:
    best = None
    for item_id, value in enumerate(hashes):
        distance = (value ^ query).bit_count()
        if distance <= radius and (best is None or distance < best[1]):
            best = (item_id, distance)
    return best


def flip(value: int, bits: np.ndarray) -> int:
    for bit in bits:
        value ^= 1 << int(bit)
    return value


def test_popcount_matches_python() -> None:
    rng = np.random.default_rng(0)
    values = rng.integers(0, 2**63, 1000, dtype=np.int64).astype(np.uint64) * np.uint64(2) + np.uint64(1)
    assert popcount64(values).tolist() == [int(v).bit_count() for v in values]
    assert popcount64(np.array([0, 2**64 - 1], dtype=np.uint64)).tolist() == [0, 64]


@pytest.mark.parametrize("count", [10, 5000, 20_000])  # buffer only, built tables, tables + buffer
@pytest.mark.parametrize("radius", [0, 3, 8, 12])
def test_same_answer_as_a_linear_scan(count: int, radius: int) -> None:
    rng = np.random.default_rng(count + radius)
    hashes = [int(v) for v in rng.integers(0, 2**64, count, dtype=np.uint64)]
    index = HammingIndex()
    for item_id, value in enumerate(hashes):
        index.add(value, item_id)
    for _ in range(60):
        source = hashes[int(rng.integers(0, count))]
        query = flip(source, rng.choice(64, int(rng.integers(0, radius + 3)), replace=False))
        assert index.nearest(query, radius) == brute_force(hashes, query, radius)


def test_ties_go_to_the_earliest() -> None:
    index = HammingIndex()
    index.add(0b0110, 7)
    index.add(0b0101, 8)  # both 1 bit from 0b0100
    assert index.nearest(0b0100, 2) == (7, 1)


def test_nothing_within_radius() -> None:
    index = HammingIndex()
    index.add(0, 1)
    assert index.nearest(2**64 - 1, 12) is None
    assert HammingIndex().nearest(0, 8) is None


def test_radius_beyond_the_supported_range_is_refused() -> None:
    index = HammingIndex()
    index.add(0, 1)
    with pytest.raises(ValueError, match="radius"):
        index.nearest(0, 20)


def test_bounded_memory_forgets_the_oldest() -> None:
    index = HammingIndex(capacity=10_000)
    rng = np.random.default_rng(1)
    hashes = [int(v) for v in rng.integers(0, 2**64, 12_000, dtype=np.uint64)]
    for item_id, value in enumerate(hashes):
        index.add(value, item_id)
    assert len(index) <= 10_000
    assert index.nearest(hashes[0], 0) is None  # forgotten
    assert index.nearest(hashes[-1], 0) == (11_999, 0)
    assert index.last_id == 11_999


def test_nearest_of_a_hash_set_takes_the_closest_then_earliest() -> None:
    index = HammingIndex()
    index.add(0b1111, 1)
    index.add(0b0000, 2)
    assert nearest_of(index, [0b0011, 0b0001], 4) == 2  # 2 bits from id 1, 1 bit from id 2
    assert nearest_of(index, [0b0111, 0b0001], 4) == 1  # 1 bit from each: the earliest
    assert nearest_of(index, [0b1110], 4) == 1
    assert nearest_of(index, [2**63], 0) is None


@pytest.mark.parametrize("count", [10, 20_000])  # buffer only; tables + buffer
def test_a_hash_set_in_one_query_answers_as_the_best_of_its_hashes(count: int) -> None:
    rng = np.random.default_rng(count)
    hashes = [int(v) for v in rng.integers(0, 2**64, count, dtype=np.uint64)]
    index = HammingIndex()
    for item_id, value in enumerate(hashes):
        index.add(value, item_id)
    for _ in range(40):
        sources = [hashes[int(i)] for i in rng.integers(0, count, 7)]
        queries = [flip(value, rng.choice(64, int(rng.integers(0, 14)), replace=False)) for value in sources]
        each = [found for query in queries if (found := brute_force(hashes, query, 10)) is not None]
        expected = min(each, key=lambda found: (found[1], found[0])) if each else None
        assert index.nearest_to_any(queries, 10) == expected
