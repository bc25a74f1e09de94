"""Label-error candidates where the labels and a model disagree, scored by cleanlab's object
detection scores (ObjectLab): an object nobody labelled that the model is sure of (overlooked), a
box in the wrong place or of the wrong size (badly located), a box with the wrong class (swapped).

Each score is in [0, 1], lower meaning more likely wrong. cleanlab's own `find_label_issues`
flags few of them (high precision, low recall: recall 0.22 in a probe on injected errors), while
its per-box scores separate wrong from right boxes well; so each type gets its own threshold,
calibrated on injected errors (bench/label_errors.py, which reports precision and recall per
type on seeds and detectors the calibration never saw).
"""

from __future__ import annotations

import warnings
from collections import defaultdict
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
from pydantic import BaseModel, Field

from .coco_input import GroundTruth, Predictions

_BADLOC_SURE = 0.5  # cleanlab's LOW_PROBABILITY_THRESHOLD: predictions it compares label boxes with
_NEAR_IOU = 0.05


class LabelIssue(StrEnum):
    OVERLOOKED = "overlooked"  # the model finds an object the labels miss
    BADLY_LOCATED = "badly_located"  # a label box off its object
    SWAPPED = "swapped"  # a label box with the wrong class


class LabelErrorThresholds(BaseModel):
    """A box whose score is at or below its type's threshold is a candidate (FRAMESIFT_EVALUATE__LABEL_ERRORS__*).
    From bench/label_errors.py's calibration (seed 0, a detector of mid skill): the threshold with
    the best F0.5 on injected errors (precision weighs twice recall: each flag costs a reviewer's
    look); that bench shows precision and recall on other seeds and detectors."""

    overlooked: float = Field(default=0.001, ge=0, le=1)
    badly_located: float = Field(default=0.32, ge=0, le=1)
    swapped: float = Field(default=0.59, ge=0, le=1)
    # A detection this sure may claim an object the labels missed or mis-classed. cleanlab's
    # default, 0.95, suits detectors trained to saturate; 0.8 is the usual "confident" cut of
    # a COCO detector (its operating point is about 0.5), so mid-confidence models count too.
    confident_score: float = Field(default=0.8, gt=0, lt=1)


@dataclass(frozen=True)
class Candidate:
    issue: LabelIssue
    image_id: int
    score: float
    box: list[float]  # COCO [x, y, width, height] in pixels
    category_id: int  # the label's class (overlooked: the model's)
    annotation_id: int | None  # the label box (None for overlooked: there is none)
    suggested_category_id: int | None  # what the model says it is, where it says


@dataclass(frozen=True)
class BoxScores:
    """Per image: overlooked score per prediction, badly-located and swapped score per label box."""

    image_ids: list[int]
    labels: list[dict[str, np.ndarray]]
    predictions: list[list[np.ndarray]]
    annotation_ids: list[list[int]]
    category_ids: list[int]
    overlooked: list[np.ndarray]
    badly_located: list[np.ndarray]
    swapped: list[np.ndarray]


def _xyxy(box: list[float]) -> list[float]:
    x, y, w, h = box
    return [x, y, x + w, y + h]


def box_scores(truth: GroundTruth, found: Predictions, *, confident_score: float = 0.8) -> BoxScores:
    from cleanlab.object_detection.rank import (
        compute_badloc_box_scores,
        compute_overlooked_box_scores,
        compute_swap_box_scores,
    )

    category_ids = sorted(c["id"] for c in truth.categories)
    column = {category_id: k for k, category_id in enumerate(category_ids)}
    image_ids = [image["id"] for image in truth.images]
    boxes_of: dict[int, list[dict]] = defaultdict(list)
    for annotation in truth.annotations:
        if not annotation.get("iscrowd", 0):
            boxes_of[annotation["image_id"]].append(annotation)
    found_of: dict[int, list[dict]] = defaultdict(list)
    for detection in found.detections:
        found_of[detection["image_id"]].append(detection)
    labels, predictions, annotation_ids = [], [], []
    for image_id in image_ids:
        mine = boxes_of[image_id]
        labels.append(
            {
                "bboxes": np.array([_xyxy(a["bbox"]) for a in mine], dtype=np.float64).reshape(-1, 4),
                "labels": np.array([column[a["category_id"]] for a in mine], dtype=np.int64),
            }
        )
        annotation_ids.append([a["id"] for a in mine])
        per_class = [[] for _ in category_ids]
        for detection in found_of[image_id]:
            per_class[column[detection["category_id"]]].append([*_xyxy(detection["bbox"]), detection["score"]])
        predictions.append([np.array(rows, dtype=np.float64).reshape(-1, 5) for rows in per_class])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # cleanlab warns when a threshold prunes most boxes: expected here
        overlooked = compute_overlooked_box_scores(
            labels=labels, predictions=predictions, high_probability_threshold=confident_score
        )
        badly_located = compute_badloc_box_scores(labels=labels, predictions=predictions)
        swapped = compute_swap_box_scores(
            labels=labels, predictions=predictions, high_probability_threshold=confident_score
        )
    return BoxScores(image_ids, labels, predictions, annotation_ids, category_ids, overlooked, badly_located, swapped)


def candidates(scores: BoxScores, thresholds: LabelErrorThresholds) -> list[Candidate]:
    """Every box at or below its type's threshold, most severe (lowest score) first."""
    found: list[Candidate] = []
    for at, image_id in enumerate(scores.image_ids):
        label_boxes = scores.labels[at]["bboxes"]
        label_classes = scores.labels[at]["labels"]
        predicted = [(k, row) for k, rows in enumerate(scores.predictions[at]) for row in rows]
        for p, value in enumerate(scores.overlooked[at]):
            if np.isfinite(value) and value <= thresholds.overlooked:
                k, row = predicted[p]
                found.append(
                    Candidate(LabelIssue.OVERLOOKED, image_id, float(value), _xywh(row[:4]), scores.category_ids[k],
                              None, scores.category_ids[k])
                )  # fmt: skip
        for issue, values, limit in (
            (LabelIssue.BADLY_LOCATED, scores.badly_located[at], thresholds.badly_located),
            (LabelIssue.SWAPPED, scores.swapped[at], thresholds.swapped),
        ):
            for b, value in enumerate(values):
                if issue == LabelIssue.BADLY_LOCATED and not _seen_near(
                    label_boxes[b], int(label_classes[b]), predicted
                ):
                    continue  # the model never saw this object: no sign of where it really is
                if np.isfinite(value) and value <= limit:
                    found.append(
                        Candidate(
                            issue, image_id, float(value), _xywh(label_boxes[b]),
                            scores.category_ids[int(label_classes[b])], scores.annotation_ids[at][b],
                            _best_class(label_boxes[b], predicted, scores.category_ids),
                        )
                    )  # fmt: skip
    return sorted(found, key=lambda c: (c.score, c.image_id, c.issue.value))


def _xywh(box: np.ndarray) -> list[float]:
    x1, y1, x2, y2 = (float(v) for v in box)
    return [x1, y1, x2 - x1, y2 - y1]


def _seen_near(box: np.ndarray, label_class: int, predicted: list[tuple[int, np.ndarray]]) -> bool:
    """A prediction of the box's class, at least as sure as cleanlab's badly-located cut (0.5),
    overlaps the box by IoU >= 0.05: the model saw this object, near the label. A box moved by
    60 % of its size in both directions still has IoU 0.09 with where it belongs; a small box
    merely inside a large object's box (IoU ~ area ratio) does not count as seen."""
    return any(k == label_class and row[4] >= _BADLOC_SURE and _iou(box, row[:4]) >= _NEAR_IOU for k, row in predicted)


def _best_class(box: np.ndarray, predicted: list[tuple[int, np.ndarray]], category_ids: list[int]) -> int | None:
    """The class of the most confident prediction overlapping the box by IoU >= 0.5, if any."""
    best, best_score = None, -1.0
    for k, row in predicted:
        if _iou(box, row[:4]) >= 0.5 and row[4] > best_score:
            best, best_score = category_ids[k], float(row[4])
    return best


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    width = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    height = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = width * height
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0
