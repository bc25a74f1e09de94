"""Duplicate lookup held in memory: for `framesift scan`, where one process sees every file."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Generic

from .assess import Assessment
from .hamming import HammingIndex, nearest_of
from .verdict import Ref, Verdict


class MemoryDuplicates(Generic[Ref]):
    def __init__(self, capacity: int = 2_000_000) -> None:
        self._by_sha256: dict[str, Ref] = {}
        self._index = HammingIndex(capacity)
        self._kept: dict[int, Ref] = {}

    def same_bytes(self, sha256: str) -> Ref | None:
        return self._by_sha256.get(sha256)

    def similar(self, phashes: Sequence[int], radius: int) -> Ref | None:
        found = nearest_of(self._index, phashes, radius)
        return self._kept.get(found) if found is not None else None

    def remember(self, assessment: Assessment, verdict: Verdict[Ref], ref: Ref) -> None:
        if assessment.corrupt:
            return
        self._by_sha256.setdefault(assessment.sha256, ref)
        if verdict.kept and assessment.phashes:
            item_id = len(self._kept)
            self._kept[item_id] = ref
            for phash in assessment.phashes:
                self._index.add(phash, item_id)
