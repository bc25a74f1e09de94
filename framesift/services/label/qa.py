"""Label QA: a list of issue types, like quality's reasons. Each check is a pure function of a
submission, its pre-labels and the ontology, with its threshold from QaSettings; a flag routes the
task to review.

Boxes are (x_min, y_min, x_max, y_max) relative to the frame (0..1); sizes in pixels use the
frame's width and height.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from .ontology import Ontology
from .settings import QaSettings

Box = tuple[float, float, float, float]


class Issue(StrEnum):
    DEGENERATE_BOX = "degenerate_box"  # no area, or a side under a couple of pixels
    OUT_OF_FRAME = "out_of_frame"  # beyond the image's edges
    DUPLICATE_BOX = "duplicate_box"  # one object labelled twice (same class, high IoU)
    CLASS_CHANGED = "class_changed"  # a confident pre-label's object given another class
    MISSING_OBJECT = "missing_object"  # a confident pre-label with no label on it
    BOX_TOO_TIGHT = "box_too_tight"  # much smaller than the pre-label of the same object
    BOX_TOO_WIDE = "box_too_wide"  # much larger than the pre-label of the same object
    ONTOLOGY_VIOLATION = "ontology_violation"  # under the class's minimum box size
    TRACK_CLASS_FLIP = "track_class_flip"  # a track whose class differs across frames


@dataclass(frozen=True)
class Labelled:
    """What the checks see of one submission."""

    annotations: Sequence[Mapping[str, Any]]  # {"class", "box", "attributes", "track_id"}
    prelabels: Sequence[Mapping[str, Any]]  # {"class", "score", "box"}
    width: int
    height: int
    ontology: Ontology
    # For each track id this submission uses: how many other frames (same camera) gave it each class.
    track_classes: Mapping[str, Mapping[str, int]] = field(default_factory=dict)


@dataclass(frozen=True)
class Finding:
    issue: Issue
    index: int | None  # the annotation it is about (None: about a pre-label or the whole task)
    detail: str
    prelabel: int | None = None  # the pre-label it is about (a missing object's), drawn on it


def iou(a: Box, b: Box) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = area(a) + area(b) - inter
    return inter / union if union > 0 else 0.0


def area(box: Box) -> float:
    return max(0.0, box[2] - box[0]) * max(0.0, box[3] - box[1])


def _box(item: Mapping[str, Any]) -> Box:
    x0, y0, x1, y1 = item["box"]
    return (float(x0), float(y0), float(x1), float(y1))


def match_boxes(labels: Sequence[Mapping[str, Any]], prelabels: Sequence[Mapping[str, Any]], min_iou: float):
    """Greedy one-to-one matching by IoU, best pairs first: {pre-label index: label index}."""
    pairs = sorted(
        ((iou(_box(p), _box(a)), pi, ai) for pi, p in enumerate(prelabels) for ai, a in enumerate(labels)),
        reverse=True,
    )
    matched: dict[int, int] = {}
    used: set[int] = set()
    for overlap, pi, ai in pairs:
        if overlap < min_iou:
            break
        if pi not in matched and ai not in used:
            matched[pi] = ai
            used.add(ai)
    return matched


def degenerate_boxes(s: Labelled, q: QaSettings) -> list[Finding]:
    found = []
    for i, a in enumerate(s.annotations):
        x0, y0, x1, y1 = _box(a)
        w, h = (x1 - x0) * s.width, (y1 - y0) * s.height
        if w <= 0 or h <= 0 or min(w, h) < q.degenerate_px:
            found.append(Finding(Issue.DEGENERATE_BOX, i, f"box {w:.1f} x {h:.1f} px"))
    return found


def out_of_frame(s: Labelled, q: QaSettings) -> list[Finding]:
    return [
        Finding(Issue.OUT_OF_FRAME, i, "box reaches outside the image")
        for i, a in enumerate(s.annotations)
        if min(_box(a)) < 0.0 or max(_box(a)) > 1.0
    ]


def duplicate_boxes(s: Labelled, q: QaSettings) -> list[Finding]:
    found = []
    for i, a in enumerate(s.annotations):
        for j in range(i):
            b = s.annotations[j]
            if a["class"] == b["class"] and iou(_box(a), _box(b)) >= q.duplicate_iou:
                found.append(Finding(Issue.DUPLICATE_BOX, i, f"same {a['class']} as annotation {j}"))
                break
    return found


def _confident(s: Labelled, q: QaSettings) -> list[int]:
    return [i for i, p in enumerate(s.prelabels) if float(p.get("score", 0.0)) >= q.confident_score]


def containment(a: Box, b: Box) -> float:
    """How much of the smaller box lies inside the other (1: one holds the other)."""
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    smaller = min(area(a), area(b))
    return ix * iy / smaller if smaller > 0 else 0.0


def same_object(s: Labelled, q: QaSettings) -> dict[int, int]:
    """{pre-label: label} for labels of the pre-label's class on its object, however badly sized:
    one box mostly inside the other (a tight box sits inside, a wide one around), best IoU first."""
    pairs = sorted(
        (
            (iou(_box(p), _box(a)), pi, ai)
            for pi, p in enumerate(s.prelabels)
            for ai, a in enumerate(s.annotations)
            if p["class"] == a["class"] and not _degenerate(s, q, a) and containment(_box(p), _box(a)) >= q.contained
        ),
        reverse=True,
    )
    paired: dict[int, int] = {}
    used: set[int] = set()
    for _, pi, ai in pairs:
        if pi not in paired and ai not in used:
            paired[pi] = ai
            used.add(ai)
    return paired


def _degenerate(s: Labelled, q: QaSettings, a: Mapping[str, Any]) -> bool:
    x0, y0, x1, y1 = _box(a)
    w, h = (x1 - x0) * s.width, (y1 - y0) * s.height
    return w <= 0 or h <= 0 or min(w, h) < q.degenerate_px


def _inside(point: tuple[float, float], box: Box, margin: float = 0.1) -> bool:
    """In the box grown by `margin` of its size each side (a sliver drawn on an object's edge)."""
    mx, my = (box[2] - box[0]) * margin, (box[3] - box[1]) * margin
    return box[0] - mx <= point[0] <= box[2] + mx and box[1] - my <= point[1] <= box[3] + my


def changed_or_missing(s: Labelled, q: QaSettings) -> list[Finding]:
    """A confident pre-label's object: labelled with another class, or not labelled at all. A
    badly sized box of its class on it is box_fit's finding, a degenerate one on it
    degenerate_box's, not a missing object."""
    matched = match_boxes(s.annotations, s.prelabels, q.match_iou)
    sized = same_object(s, q)
    found = []
    for pi in _confident(s, q):
        pre = s.prelabels[pi]
        if pi in sized:
            continue
        if pi not in matched:
            broken = any(
                a["class"] == pre["class"]
                and _degenerate(s, q, a)
                and _inside(((_box(a)[0] + _box(a)[2]) / 2, (_box(a)[1] + _box(a)[3]) / 2), _box(pre))
                for a in s.annotations
            )
            if not broken:
                found.append(Finding(Issue.MISSING_OBJECT, None, f"no label on the {pre['class']} pre-label {pi}", pi))
        elif s.annotations[matched[pi]]["class"] != pre["class"]:
            ai = matched[pi]
            found.append(
                Finding(Issue.CLASS_CHANGED, ai, f"{pre['class']} pre-label labelled {s.annotations[ai]['class']}")
            )
    return found


def box_fit(s: Labelled, q: QaSettings) -> list[Finding]:
    """A label of the pre-label's class on the same object, much smaller or larger than it."""
    found = []
    for pi, ai in same_object(s, q).items():
        pre, label = s.prelabels[pi], s.annotations[ai]
        if area(_box(pre)) <= 0:
            continue
        ratio = area(_box(label)) / area(_box(pre))
        if ratio < q.tight_area_ratio:
            found.append(Finding(Issue.BOX_TOO_TIGHT, ai, f"{ratio:.2f} of the pre-label's area"))
        elif ratio > q.wide_area_ratio:
            found.append(Finding(Issue.BOX_TOO_WIDE, ai, f"{ratio:.2f} times the pre-label's area"))
    return found


def ontology_rules(s: Labelled, q: QaSettings) -> list[Finding]:
    found = []
    for i, a in enumerate(s.annotations):
        cls = s.ontology.by_name(a["class"])
        if cls is None or not cls.min_box_px or _degenerate(s, q, a):  # degenerate: its own finding
            continue
        x0, y0, x1, y1 = _box(a)
        side = min((x1 - x0) * s.width, (y1 - y0) * s.height)
        if side < cls.min_box_px:
            found.append(Finding(Issue.ONTOLOGY_VIOLATION, i, f"{cls.name} under {cls.min_box_px} px ({side:.1f})"))
    return found


def track_flips(s: Labelled, q: QaSettings) -> list[Finding]:
    """A box whose class is in the minority of its track's frames (this one counted): a single
    wrong frame is flagged, not the right frames around it; a tie flags nothing."""
    found = []
    for i, a in enumerate(s.annotations):
        track = a.get("track_id") or ""
        if not track:
            continue
        votes = Counter(s.track_classes.get(track, {}))
        votes[a["class"]] += 1
        if votes[a["class"]] < max(votes.values()):
            usual = votes.most_common(1)[0][0]
            found.append(Finding(Issue.TRACK_CLASS_FLIP, i, f"track {track} is {usual} on most of its frames"))
    return found


def minority(votes: Mapping[str, str]) -> set[str]:
    """Of one track's {frame: class}, the frames whose class fewer frames share than the most
    common one (a tie: none)."""
    counts = Counter(votes.values())
    top = max(counts.values(), default=0)
    return {frame for frame, cls in votes.items() if counts[cls] < top}


CHECKS: tuple[Callable[[Labelled, QaSettings], list[Finding]], ...] = (
    degenerate_boxes,
    out_of_frame,
    duplicate_boxes,
    changed_or_missing,
    box_fit,
    ontology_rules,
    track_flips,
)


def check(submission: Labelled, settings: QaSettings) -> list[Finding]:
    return [finding for run in CHECKS for finding in run(submission, settings)]
