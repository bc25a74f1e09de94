"""Radius queries over 64-bit hashes by multi-index hashing (Norouzi, Punjani & Fleet, 2012).

Each hash is cut into four 16-bit chunks. Two hashes within Hamming distance r agree to within
floor(r / 4) bits on at least one chunk (pigeonhole), so a query only looks at the buckets of
its chunks' near neighbours: 4 x 137 buckets for r <= 11, about a thousandth of the table at
1 M hashes, then checks those candidates exactly. The tables are sorted arrays (CSR), rebuilt
in bulk; hashes added since the last build sit in a small buffer that is scanned linearly.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import combinations

import numpy as np

_CHUNKS = 4
_CHUNK_BITS = 16
_BUCKETS = 1 << _CHUNK_BITS
_MIN_BUFFER = 4096

_M1 = np.uint64(0x5555555555555555)
_M2 = np.uint64(0x3333333333333333)
_M4 = np.uint64(0x0F0F0F0F0F0F0F0F)
_H01 = np.uint64(0x0101010101010101)


def popcount64(values: np.ndarray) -> np.ndarray:
    """Set bits per uint64 (SWAR; numpy < 2 has no bitwise_count)."""
    x = values - ((values >> np.uint64(1)) & _M1)
    x = (x & _M2) + ((x >> np.uint64(2)) & _M2)
    x = (x + (x >> np.uint64(4))) & _M4
    return ((x * _H01) >> np.uint64(56)).astype(np.int64)


def _masks(bits: int) -> np.ndarray:
    """Every 16-bit value with at most `bits` bits set."""
    masks = [0]
    for k in range(1, bits + 1):
        masks.extend(sum(1 << i for i in combo) for combo in combinations(range(_CHUNK_BITS), k))
    return np.array(masks, dtype=np.int64)


_MASKS = {bits: _masks(bits) for bits in range(0, 5)}


def _chunks(hashes: np.ndarray) -> list[np.ndarray]:
    return [((hashes >> np.uint64(_CHUNK_BITS * c)) & np.uint64(0xFFFF)).astype(np.int64) for c in range(_CHUNKS)]


class HammingIndex:
    """Hashes with caller-chosen integer ids; finds the nearest within a radius.

    Bounded: beyond `capacity` hashes the oldest are forgotten. Ids should increase with
    insertion order so that ties resolve to the earliest hash.
    """

    def __init__(self, capacity: int = 2_000_000) -> None:
        if capacity < 1:
            raise ValueError("capacity must be positive")
        self.capacity = capacity
        self._hashes = np.empty(1024, dtype=np.uint64)
        self._ids = np.empty(1024, dtype=np.int64)
        self._count = 0
        self._built = 0  # hashes [0, _built) are in the tables; the rest are in the buffer
        self._order = np.empty((_CHUNKS, 0), dtype=np.int32)  # positions sorted by chunk value, a row per chunk
        self._offsets: list[np.ndarray] = []

    def __len__(self) -> int:
        return self._count

    @property
    def nbytes(self) -> int:
        """Memory held: 8 bytes of hash, 8 of id and 4 x 4 of table order per hash, plus bucket offsets."""
        tables = sum(order.nbytes + offsets.nbytes for order, offsets in zip(self._order, self._offsets, strict=True))
        return self._hashes.nbytes + self._ids.nbytes + tables

    @property
    def last_id(self) -> int | None:
        return int(self._ids[self._count - 1]) if self._count else None

    def add(self, hash_value: int, item_id: int) -> None:
        if self._count == len(self._hashes):
            grown = max(1024, len(self._hashes) * 2)
            self._hashes = np.resize(self._hashes, grown)
            self._ids = np.resize(self._ids, grown)
        self._hashes[self._count] = np.uint64(hash_value)
        self._ids[self._count] = item_id
        self._count += 1
        if self._count > self.capacity:
            self._forget_oldest(self._count - self.capacity * 9 // 10)
        elif self._count - self._built > max(_MIN_BUFFER, self._built // 8):
            self._build()

    def nearest(self, hash_value: int, radius: int) -> tuple[int, int] | None:
        """(id, distance) of the closest hash within `radius`, earliest on ties; else None."""
        return self.nearest_to_any((hash_value,), radius)

    def nearest_to_any(self, hash_values: Sequence[int], radius: int) -> tuple[int, int] | None:
        """(id, distance) of the hash closest to any of `hash_values` (a frame's whole set, one
        pass over the buffer and the candidates), earliest on ties; else None."""
        if radius < 0 or self._count == 0 or not hash_values:
            return None
        if radius // _CHUNKS not in _MASKS:
            raise ValueError(f"radius {radius} is beyond what the index supports (<= {4 * _CHUNKS + 3})")
        queries = np.array(hash_values, dtype=np.uint64)
        buffer = np.arange(self._built, self._count)  # the unindexed buffer: every query checks it
        positions = [np.tile(buffer, len(queries))]
        asked = [np.repeat(np.arange(len(queries)), len(buffer))]
        if self._built:
            # Each query only against its own candidates (pigeonhole: a hash within the radius of
            # a query shares a near chunk with that query), not every query against all of them.
            masks = _MASKS[radius // _CHUNKS]
            starts, ends, owners = [], [], []
            for query, value in enumerate(hash_values):
                for chunk, offsets in enumerate(self._offsets):
                    buckets = ((value >> (_CHUNK_BITS * chunk)) & 0xFFFF) ^ masks
                    starts.append(offsets[buckets])
                    ends.append(offsets[buckets + 1])
                    owners.append(np.full(len(masks), query * _CHUNKS + chunk))
            start, end, owner = np.concatenate(starts), np.concatenate(ends), np.concatenate(owners)
            lengths = end - start
            total = int(lengths.sum())
            if total:
                # Concatenated ranges [start, end) without a Python loop, read from each range's chunk table.
                shifts = np.repeat(start - np.cumsum(lengths) + lengths, lengths) + np.arange(total)
                table = np.repeat(owner, lengths)
                positions.append(self._order[table % _CHUNKS, shifts])
                asked.append(table // _CHUNKS)
        candidates, owners_of = np.concatenate(positions), np.concatenate(asked)
        if not len(candidates):
            return None
        distances = popcount64(self._hashes[candidates] ^ queries[owners_of])
        within = distances <= radius
        if not within.any():
            return None
        candidates, distances = candidates[within], distances[within]
        best = np.lexsort((candidates, distances))[0]  # nearest, then earliest
        return int(self._ids[candidates[best]]), int(distances[best])

    def _build(self) -> None:
        hashes = self._hashes[: self._count]
        orders, self._offsets = [], []
        for values in _chunks(hashes):
            orders.append(np.argsort(values, kind="stable").astype(np.int32))
            counts = np.bincount(values, minlength=_BUCKETS)
            offsets = np.zeros(_BUCKETS + 1, dtype=np.int64)
            np.cumsum(counts, out=offsets[1:])
            self._offsets.append(offsets)
        self._order = np.stack(orders)
        self._built = self._count

    def _forget_oldest(self, how_many: int) -> None:
        keep = slice(how_many, self._count)
        self._count -= how_many
        self._hashes[: self._count] = self._hashes[keep].copy()
        self._ids[: self._count] = self._ids[keep].copy()
        self._build()


def nearest_of(index: HammingIndex, hashes: Sequence[int], radius: int) -> int | None:
    """Id of the closest match to any of `hashes` (a frame's hash set), earliest on ties."""
    found = index.nearest_to_any(hashes, radius)
    return found[0] if found else None
