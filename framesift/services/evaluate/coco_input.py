"""Ground truth and predictions in COCO form, checked before anything is computed.

An evaluation of a file with a typo must fail at the first bad item, naming it, not return a
quietly wrong mAP: faster-coco-eval (like pycocotools) accepts a detection for an image that is
not in the ground truth and counts it nowhere, and a negative box as a box of negative area.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MAX_FILE_BYTES = 2 * 1024**3  # a COCO file larger than this is almost certainly not one file's worth


class CocoInputError(ValueError):
    """A COCO file that cannot be evaluated; the message names the file and the item."""


@dataclass(frozen=True)
class GroundTruth:
    images: list[dict[str, Any]]
    categories: list[dict[str, Any]]
    annotations: list[dict[str, Any]]
    source: str

    @property
    def image_ids(self) -> list[int]:
        return [image["id"] for image in self.images]

    def as_dataset(self) -> dict[str, Any]:
        return {"images": self.images, "categories": self.categories, "annotations": self.annotations}


@dataclass(frozen=True)
class Predictions:
    detections: list[dict[str, Any]]
    source: str


def read_json(path: Path) -> Any:
    try:
        size = path.stat().st_size
    except OSError as error:
        raise CocoInputError(f"{path}: cannot be read ({error.strerror})") from None
    if size > MAX_FILE_BYTES:
        raise CocoInputError(f"{path}: {size} bytes, more than the {MAX_FILE_BYTES} a COCO file may have")
    try:
        return json.loads(path.read_bytes())
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise CocoInputError(f"{path}: not JSON ({error})") from None


def ground_truth(document: Any, *, source: str) -> GroundTruth:
    if not isinstance(document, Mapping):
        raise CocoInputError(f"{source}: a COCO ground truth is an object with images, categories and annotations")
    images = _list(document, "images", source)
    categories = _list(document, "categories", source)
    annotations = _list(document, "annotations", source)
    if not images:
        raise CocoInputError(f"{source}: no images, nothing to evaluate")
    image_sizes: dict[int, tuple[float, float]] = {}
    for at, image in enumerate(images):
        where = f"{source}: images[{at}]"
        image_id = _id(image, "id", where)
        if image_id in image_sizes:
            raise CocoInputError(f"{where}: image id {image_id} appears twice")
        image_sizes[image_id] = (
            _number(image, "width", where, positive=True),
            _number(image, "height", where, positive=True),
        )
    category_ids: set[int] = set()
    for at, category in enumerate(categories):
        where = f"{source}: categories[{at}]"
        category_id = _id(category, "id", where)
        if category_id in category_ids:
            raise CocoInputError(f"{where}: category id {category_id} appears twice")
        if not isinstance(category.get("name"), str) or not category["name"]:
            raise CocoInputError(f"{where}: a category needs a name")
        category_ids.add(category_id)
    if not category_ids:
        raise CocoInputError(f"{source}: no categories")
    annotation_ids: set[int] = set()
    checked = []
    for at, annotation in enumerate(annotations):
        where = f"{source}: annotations[{at}]"
        annotation_id = _id(annotation, "id", where)
        if annotation_id in annotation_ids:
            raise CocoInputError(f"{where}: annotation id {annotation_id} appears twice")
        annotation_ids.add(annotation_id)
        box = _item_refs(annotation, where, image_sizes, category_ids)
        item = dict(annotation)
        item["bbox"] = box
        item.setdefault("area", box[2] * box[3])
        item.setdefault("iscrowd", 0)
        checked.append(item)
    return GroundTruth(images=list(images), categories=list(categories), annotations=checked, source=source)


def predictions(document: Any, truth: GroundTruth, *, source: str) -> Predictions:
    """COCO results: a list of {image_id, category_id, bbox, score}, or an object holding them
    under "annotations" (what some tools write)."""
    if isinstance(document, Mapping) and "annotations" in document:
        document = document["annotations"]
    if not isinstance(document, list):
        raise CocoInputError(f"{source}: COCO results are a list of detections")
    image_sizes = {image["id"]: (image["width"], image["height"]) for image in truth.images}
    category_ids = {category["id"] for category in truth.categories}
    detections = []
    for at, detection in enumerate(document):
        where = f"{source}: [{at}]"
        if not isinstance(detection, Mapping):
            raise CocoInputError(f"{where}: a detection is an object")
        box = _item_refs(detection, where, image_sizes, category_ids)
        score = _number(detection, "score", where)
        if not 0 <= score <= 1:
            raise CocoInputError(f"{where}: score {score} is outside [0, 1]")
        detections.append(
            {"image_id": detection["image_id"], "category_id": detection["category_id"], "bbox": box, "score": score}
        )
    return Predictions(detections=detections, source=source)


def _item_refs(
    item: Mapping[str, Any], where: str, image_sizes: Mapping[int, tuple[float, float]], category_ids: set[int]
) -> list[float]:
    image_id = _id(item, "image_id", where)
    if image_id not in image_sizes:
        raise CocoInputError(f"{where}: image_id {image_id} is not an image of the ground truth")
    category_id = _id(item, "category_id", where)
    if category_id not in category_ids:
        raise CocoInputError(f"{where}: category_id {category_id} is not a category of the ground truth")
    return _box(item, where)


def _box(item: Mapping[str, Any], where: str) -> list[float]:
    box = item.get("bbox")
    if not isinstance(box, Sequence) or isinstance(box, str) or len(box) != 4:
        raise CocoInputError(f"{where}: bbox must be [x, y, width, height]")
    values = []
    for value in box:
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise CocoInputError(f"{where}: bbox {list(box)} holds a value that is not a finite number")
        values.append(float(value))
    if values[2] <= 0 or values[3] <= 0:
        raise CocoInputError(f"{where}: bbox {list(box)} has no area (width and height must be > 0)")
    return values


def _list(document: Mapping[str, Any], key: str, source: str) -> list[Any]:
    value = document.get(key)
    if not isinstance(value, list):
        raise CocoInputError(f"{source}: {key!r} must be a list")
    for at, item in enumerate(value):
        if not isinstance(item, Mapping):
            raise CocoInputError(f"{source}: {key}[{at}] is not an object")
    return value


def _id(item: Mapping[str, Any], key: str, where: str) -> int:
    value = item.get(key)
    if isinstance(value, bool) or not isinstance(value, int):
        raise CocoInputError(f"{where}: {key} must be an integer, got {value!r:.40}")
    return value


def _number(item: Mapping[str, Any], key: str, where: str, *, positive: bool = False) -> float:
    value = item.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise CocoInputError(f"{where}: {key} must be a finite number, got {value!r:.40}")
    if positive and value <= 0:
        raise CocoInputError(f"{where}: {key} must be > 0, got {value}")
    return float(value)
