"""A frame's final verdict: its own reasons plus what it duplicates among earlier frames."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from framesift.contracts.vocabulary import Reason

from .assess import Assessment

Ref = TypeVar("Ref")  # how an earlier frame is named: a frame id in the service, a path in scan


@dataclass(frozen=True)
class Verdict(Generic[Ref]):
    reasons: tuple[Reason, ...]
    duplicate_of: Ref | None

    @property
    def kept(self) -> bool:
        return not self.reasons


class DuplicateLookup(Protocol[Ref]):
    def same_bytes(self, sha256: str) -> Ref | None:
        """The earliest earlier frame with these exact bytes."""

    def similar(self, phashes: Sequence[int], radius: int) -> Ref | None:
        """The nearest earlier *kept* frame with any of its hashes within `radius` of any of these."""


def judge(assessment: Assessment, lookup: DuplicateLookup[Ref], radius: int) -> Verdict[Ref]:
    """Exact duplicates are named as such (not also as near); corrupt frames are not compared."""
    if assessment.corrupt:
        return Verdict(assessment.reasons, None)
    reasons = list(assessment.reasons)
    duplicate_of = lookup.same_bytes(assessment.sha256)
    if duplicate_of is not None:
        reasons.append(Reason.EXACT_DUPLICATE)
    elif assessment.phashes:
        duplicate_of = lookup.similar(assessment.phashes, radius)
        if duplicate_of is not None:
            reasons.append(Reason.NEAR_DUPLICATE)
    return Verdict(tuple(reasons), duplicate_of)
