"""A frame's final verdict: its own reasons, its size against its source's, and what it duplicates.

Every reason that applies is listed. Duplicates are looked for among earlier frames whatever
else is wrong with a frame, with one asymmetry:
- a frame with nothing else wrong is a near duplicate only of an earlier *kept* frame: a sharp
  frame that looks like an earlier blurred one is the better copy, and is kept;
- a frame rejected for another reason is also named a duplicate of an earlier rejected one (a
  kept one preferred), so the copies of a dark frame say whose copies they are.
Exact duplicates (the same bytes) are named against any earlier frame. A duplicate is never
itself indexed: its copies are named duplicates of the frame it copies.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from framesift.contracts.vocabulary import Reason

from .assess import Assessment
from .settings import QualityThresholds
from .sizes import FrameSize, is_odd_size

Ref = TypeVar("Ref")  # how an earlier frame is named: a frame id in the service, a path in scan


@dataclass(frozen=True)
class Verdict(Generic[Ref]):
    reasons: tuple[Reason, ...]
    duplicate_of: Ref | None

    @property
    def kept(self) -> bool:
        return not self.reasons

    @property
    def duplicate(self) -> bool:
        return self.duplicate_of is not None


def is_original(assessment: Assessment, verdict: Verdict[Ref]) -> bool:
    """Indexed for near duplicates: decodable, hashed, and not itself a duplicate."""
    return not assessment.corrupt and bool(assessment.phashes) and not verdict.duplicate


class DuplicateLookup(Protocol[Ref]):
    def same_bytes(self, sha256: str) -> Ref | None:
        """The earliest earlier frame with these exact bytes."""

    def similar(self, phashes: Sequence[int], radius: int, *, kept_only: bool) -> Ref | None:
        """The nearest earlier indexed frame with any of its hashes within `radius` of any of
        these: among kept frames, then (unless kept_only) among rejected ones."""


def judge(
    assessment: Assessment,
    lookup: DuplicateLookup[Ref],
    limits: QualityThresholds,
    usual: FrameSize | None = None,
) -> Verdict[Ref]:
    """`usual` is the source's usual size (None: none yet). Corrupt frames are not compared."""
    if assessment.size is None:  # corrupt
        return Verdict(assessment.reasons, None)
    reasons = [Reason.ODD_SIZE] if is_odd_size(assessment.size, usual, limits) else []
    reasons += assessment.reasons
    duplicate_of = lookup.same_bytes(assessment.sha256)
    if duplicate_of is not None:
        reasons.append(Reason.EXACT_DUPLICATE)
    elif assessment.phashes:
        duplicate_of = lookup.similar(assessment.phashes, limits.near_duplicate_radius, kept_only=not reasons)
        if duplicate_of is not None:
            reasons.append(Reason.NEAR_DUPLICATE)
    return Verdict(tuple(reasons), duplicate_of)
