"""A labeller's (or reviewer's) annotations checked against the ontology before anything is stored.

The stored form of an annotation: {"class", "class_id", "box": [x_min, y_min, x_max, y_max]
relative to the frame, "attributes": {name: value}, "track_id", "from_prelabel"}.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

from .ontology import ClassKind, Ontology

_TRACK = re.compile(r"[A-Za-z0-9._:-]{1,64}")
# A box may touch the edges; a hair beyond them (a float from a canvas) is clamped, more is an error.
_EDGE_SLACK = 1e-3


class InvalidSubmissionError(ValueError):
    """A submission that cannot be stored; `field` names what is wrong (annotations[2].class)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


def annotations(
    given: Sequence[Mapping[str, Any]], ontology: Ontology, prelabels: Sequence[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """The annotations in stored form, or InvalidSubmissionError naming the first bad field."""
    return [_annotation(item, f"annotations[{i}]", ontology, prelabels) for i, item in enumerate(given)]


def frame_classes(given: Sequence[str], ontology: Ontology) -> list[str]:
    out = []
    for i, name in enumerate(given):
        cls = ontology.by_name(str(name))
        if cls is None or cls.kind != ClassKind.FRAME:
            known = ", ".join(c.name for c in ontology.active(ClassKind.FRAME)) or "none"
            raise InvalidSubmissionError(
                f"frame_classes[{i}]", f"unknown frame class {name!r} in ontology v{ontology.version} (known: {known})"
            )
        out.append(cls.name)
    return sorted(set(out))


def from_prelabels(prelabels: Sequence[Mapping[str, Any]], ontology: Ontology) -> list[dict[str, Any]]:
    """The pre-labels as the labeller's annotations ("accept as they are")."""
    given = [{"class": p["class"], "box": p["box"]} for p in prelabels]
    try:
        return annotations(given, ontology, prelabels)
    except InvalidSubmissionError as exc:
        message = str(exc).removeprefix(f"{exc.field}: ")
        field = exc.field.replace("annotations", "prelabels", 1)
        raise InvalidSubmissionError(field, f"{message}; label this task by hand") from None


def _annotation(
    item: Mapping[str, Any], where: str, ontology: Ontology, prelabels: Sequence[Mapping[str, Any]]
) -> dict[str, Any]:
    if not isinstance(item, Mapping):
        raise InvalidSubmissionError(where, "expected an object with class and box")
    name = item.get("class", item.get("class_name"))
    cls = ontology.by_name(str(name)) if name is not None else None
    if cls is None or cls.kind != ClassKind.BOX:
        known = ", ".join(c.name for c in ontology.active(ClassKind.BOX))
        raise InvalidSubmissionError(
            f"{where}.class", f"unknown class {name!r} in ontology v{ontology.version} (known: {known})"
        )
    box = _valid_box(item.get("box"), f"{where}.box")
    attributes = item.get("attributes") or {}
    if not isinstance(attributes, Mapping):
        raise InvalidSubmissionError(f"{where}.attributes", "expected an object of name: value")
    clean: dict[str, str] = {}
    for key, value in attributes.items():
        declared = cls.attribute(str(key))
        value = str(value).lower() if isinstance(value, bool) else str(value)
        if declared is None:
            raise InvalidSubmissionError(f"{where}.attributes.{key}", f"class {cls.name!r} has no attribute {key!r}")
        if not declared.allows(value):
            allowed = ", ".join(declared.values or ("true", "false"))
            raise InvalidSubmissionError(f"{where}.attributes.{key}", f"{value!r} is not one of {allowed}")
        clean[declared.name] = value
    for required in cls.required_attributes:
        if required not in clean:
            raise InvalidSubmissionError(f"{where}.attributes.{required}", f"required for class {cls.name!r}")
    track = str(item.get("track_id") or "")
    if track and not _TRACK.fullmatch(track):
        raise InvalidSubmissionError(f"{where}.track_id", "use 1-64 characters from A-Z, a-z, 0-9, '.', '_', ':', '-'")
    kept = any(p["class"] == cls.name and _same_box(p["box"], box) for p in prelabels)
    return {
        "class": cls.name,
        "class_id": cls.id,
        "box": box,
        "attributes": clean,
        "track_id": track,
        "from_prelabel": kept,
    }


def _valid_box(raw: Any, where: str) -> list[float]:
    if isinstance(raw, Mapping):
        raw = [raw.get(k) for k in ("x_min", "y_min", "x_max", "y_max")]
    if not isinstance(raw, Sequence) or isinstance(raw, str) or len(raw) != 4:
        raise InvalidSubmissionError(where, "expected [x_min, y_min, x_max, y_max] relative to the frame (0..1)")
    try:
        values = [float(v) for v in raw]
    except (TypeError, ValueError):
        raise InvalidSubmissionError(where, "coordinates must be numbers") from None
    if not all(math.isfinite(v) for v in values):
        raise InvalidSubmissionError(where, "coordinates must be finite")
    if min(values) < -_EDGE_SLACK or max(values) > 1 + _EDGE_SLACK:
        raise InvalidSubmissionError(where, "the box is outside the frame (coordinates are 0..1)")
    x0, y0, x1, y1 = (min(1.0, max(0.0, v)) for v in values)
    if x1 <= x0 or y1 <= y0:
        raise InvalidSubmissionError(where, "x_max and y_max must exceed x_min and y_min")
    return [round(v, 6) for v in (x0, y0, x1, y1)]


def _same_box(a: Sequence[float], b: Sequence[float]) -> bool:
    return all(abs(float(u) - float(v)) <= 1e-4 for u, v in zip(a, b, strict=True))
