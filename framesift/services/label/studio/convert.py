"""framesift's tasks as Label Studio tasks, and Label Studio's annotations as framesift's
submission form. Pure: no I/O.

Label Studio's regions are in percent of the image (x, y, width, height); framesift's boxes
are [x_min, y_min, x_max, y_max] relative to the frame (0..1). A region's attributes and track
id are results of their own that share the region's id.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..ontology import ClassKind, Ontology, OntologyClass
from .config import BOXES, FRAME, IMAGE, REVIEW, TRACK, AttributeControl, controls

TASK_KEY = "framesift_task"  # the framesift task id, in each Label Studio task's data


def studio_task(task: Mapping[str, Any], image_url: str, ontology: Ontology, review: str = "") -> dict[str, Any]:
    """One task for Label Studio's import: the image, framesift's ids, and the detector's boxes as
    a prediction. Pre-labels of a class the ontology lacks are left out (nobody could accept them)."""
    data = {
        IMAGE: image_url,
        REVIEW: review,
        TASK_KEY: task["task_id"],
        "frame_id": task["frame_id"],
        "camera_id": task["camera_id"],
        "priority": round(float(task["priority"]), 6),
    }
    out: dict[str, Any] = {"data": data}
    regions = [
        _region(f"p{i}", p, task["width"], task["height"])
        for i, p in enumerate(task["prelabels"])
        if (cls := ontology.by_name(p["class"])) is not None and cls.kind == ClassKind.BOX
    ]
    if regions:
        mean_score = round(sum(r["score"] for r in regions) / len(regions), 6)
        out["predictions"] = [{"model_version": task["model"] or "detector", "score": mean_score, "result": regions}]
    return out


def _region(region_id: str, prelabel: Mapping[str, Any], width: int, height: int) -> dict[str, Any]:
    x0, y0, x1, y1 = (float(v) for v in prelabel["box"])
    return {
        "id": region_id,
        "from_name": BOXES,
        "to_name": IMAGE,
        "type": "rectanglelabels",
        "original_width": width,
        "original_height": height,
        "image_rotation": 0,
        "value": {
            "x": x0 * 100,
            "y": y0 * 100,
            "width": (x1 - x0) * 100,
            "height": (y1 - y0) * 100,
            "rotation": 0,
            "rectanglelabels": [prelabel["class"]],
        },
        "score": round(float(prelabel["score"]), 6),
    }


@dataclass
class Returned:
    """An annotation from Label Studio in framesift's submission form, and what could not be
    mapped (an unknown label, a rotated box): a task with problems is flagged, not applied."""

    annotations: list[dict[str, Any]] = field(default_factory=list)
    frame_classes: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def resolve_label(name: str, versions: Sequence[Ontology]) -> OntologyClass | None:
    """The latest box class a label names: by its name now, or by a name it had in an earlier
    version (a project still holds annotations made before a rename). `versions` newest first."""
    latest = versions[0]
    found = latest.by_name(name)
    if found is None:
        earlier = next((c for v in versions[1:] if (c := v.by_name(name)) is not None), None)
        found = latest.by_id(earlier.id) if earlier is not None else None
    return found if found is not None and not found.retired and found.kind == ClassKind.BOX else None


def returned(result: Sequence[Mapping[str, Any]], versions: Sequence[Ontology]) -> Returned:
    """Label Studio's `result` list (one annotation) mapped through the ontology versions."""
    out = Returned()
    known: dict[str, AttributeControl] = {}
    for ontology in reversed(versions):  # the newest version's meaning of a control wins
        known |= controls(ontology)
    extras: dict[str, list[Mapping[str, Any]]] = {}
    regions: list[Mapping[str, Any]] = []
    for item in result:
        if not isinstance(item, Mapping):
            out.problems.append("a result that is not an object")
            continue
        kind, source = item.get("type"), item.get("from_name")
        if kind == "rectanglelabels" and source == BOXES:
            regions.append(item)
        elif kind == "choices" and source == FRAME:
            out.frame_classes.extend(str(c) for c in _value(item, "choices"))
        elif item.get("id") is not None:
            extras.setdefault(str(item["id"]), []).append(item)
    for region in regions:
        annotation = _box(region, extras.get(str(region.get("id")), ()), known, versions, out.problems)
        if annotation is not None:
            out.annotations.append(annotation)
    return out


def _value(item: Mapping[str, Any], key: str) -> list[Any]:
    value = item.get("value")
    found = value.get(key) if isinstance(value, Mapping) else None
    return list(found) if isinstance(found, list) else []


def _box(
    region: Mapping[str, Any],
    extras: Sequence[Mapping[str, Any]],
    known: Mapping[str, AttributeControl],
    versions: Sequence[Ontology],
    problems: list[str],
) -> dict[str, Any] | None:
    value = region.get("value") if isinstance(region.get("value"), Mapping) else {}
    labels = _value(region, "rectanglelabels")
    if len(labels) != 1:
        problems.append(f"region {region.get('id')!r} has {len(labels)} labels (one is expected)")
        return None
    cls = resolve_label(str(labels[0]), versions)
    if cls is None:
        problems.append(f"label {labels[0]!r} is not a class of ontology v{versions[0].version}")
        return None
    if abs(float(value.get("rotation") or 0.0)) > 1e-6:
        problems.append(f"region {region.get('id')!r} is rotated: framesift's boxes are axis-aligned")
        return None
    try:
        x, y = float(value["x"]) / 100, float(value["y"]) / 100
        box = [x, y, x + float(value["width"]) / 100, y + float(value["height"]) / 100]
    except (KeyError, TypeError, ValueError):
        problems.append(f"region {region.get('id')!r} has no numeric x, y, width, height")
        return None
    attributes = {a.name: "false" for a in cls.attributes if not a.values}  # a flag left unchecked
    track = ""
    for extra in extras:
        source = str(extra.get("from_name"))
        if source == TRACK:
            texts = _value(extra, "text")
            track = str(texts[0]).strip() if texts else ""
            continue
        control = known.get(source)
        # An attribute of another class (the region's label changed after it was chosen, and
        # Label Studio hides it now) or one the class no longer has: not this box's.
        if control is None or control.class_id != cls.id or cls.attribute(control.attribute.name) is None:
            continue
        chosen = _value(extra, "choices")
        if control.is_flag:
            attributes[control.attribute.name] = "true" if chosen else "false"
        elif chosen:
            attributes[control.attribute.name] = str(chosen[0])
    return {"class": cls.name, "box": box, "attributes": attributes, "track_id": track}
