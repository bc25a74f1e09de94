"""Duplicate lookup held in memory: for `framesift scan`, where one process sees every file."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Generic

from .assess import Assessment
from .hamming import HammingIndex, nearest_of
from .verdict import Ref, Verdict, is_original


class MemoryDuplicates(Generic[Ref]):
    """Kept and rejected originals in two indexes, so that a lookup can prefer kept frames."""

    def __init__(self, capacity: int = 2_000_000) -> None:
        self._by_sha256: dict[str, Ref] = {}
        self._kept = HammingIndex(capacity)
        self._rejected = HammingIndex(capacity)
        self._refs: list[Ref] = []

    def same_bytes(self, sha256: str) -> Ref | None:
        return self._by_sha256.get(sha256)

    def similar(self, phashes: Sequence[int], radius: int, *, kept_only: bool) -> Ref | None:
        indexes = (self._kept,) if kept_only else (self._kept, self._rejected)
        for index in indexes:
            found = nearest_of(index, phashes, radius)
            if found is not None:
                return self._refs[found]
        return None

    def remember(self, assessment: Assessment, verdict: Verdict[Ref], ref: Ref) -> None:
        if assessment.corrupt:
            return
        self._by_sha256.setdefault(assessment.sha256, ref)
        if not is_original(assessment, verdict):
            return
        item_id = len(self._refs)
        self._refs.append(ref)
        index = self._kept if verdict.kept else self._rejected
        for phash in assessment.phashes:
            index.add(phash, item_id)
