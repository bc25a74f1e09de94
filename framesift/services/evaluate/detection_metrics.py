"""COCO detection metrics, computed by faster-coco-eval (C++; equal to pycocotools, tested).

framesift never matches detections to ground truth itself: every number here, and every match the
bootstrap resamples, comes out of COCOeval_faster.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from faster_coco_eval import COCO, COCOeval_faster

from framesift.services.evaluate.coco_input import GroundTruth, Predictions

IOU_THRESHOLDS = tuple(round(0.5 + 0.05 * step, 2) for step in range(10))
MAX_DETECTIONS = 100  # per image and class, as COCO's headline numbers

# faster-coco-eval's names -> framesift's (the --json keys and the report's metric map).
SUMMARY_NAMES = {
    "AP_all": "map",
    "AP_50": "ap50",
    "AP_75": "ap75",
    "AP_small": "ap_small",
    "AP_medium": "ap_medium",
    "AP_large": "ap_large",
    "AR_all": "ar1",
    "AR_second": "ar10",
    "AR_third": "ar100",
    "AR_small": "ar_small",
    "AR_medium": "ar_medium",
    "AR_large": "ar_large",
}


@dataclass(frozen=True)
class ClassMetrics:
    category_id: int
    name: str
    ap: float  # AP@[.5:.95]; nan for a class without ground truth
    ap50: float
    ground_truth: int
    detections: int
    # COCO's interpolated precision at its 101 recall points, IoU 0.5, all sizes (empty: no truth).
    precision_at_recall: tuple[float, ...] = ()


@dataclass(frozen=True)
class Matches:
    """One IoU threshold's matching: for each detection, whether it matched a ground-truth box."""

    iou_threshold: float
    matched: dict[int, tuple[int, float]]  # detection id -> (ground-truth id, IoU)


@dataclass
class DetectionEvaluation:
    metrics: dict[str, float]
    classes: list[ClassMetrics]
    truth: COCO
    detections: COCO
    matches: list[Matches] = field(default_factory=list)


def coco_index(truth: GroundTruth, predictions: Predictions) -> tuple[COCO, COCO]:
    ground = COCO()
    ground.dataset = truth.as_dataset()
    ground.createIndex()
    if not predictions.detections:
        found = COCO()
        found.dataset = {"images": truth.images, "categories": truth.categories, "annotations": []}
        found.createIndex()
        return ground, found
    # loadRes numbers the detections 1..n in input order: a detection's id is its place + 1.
    return ground, ground.loadRes([dict(item) for item in predictions.detections])


def evaluate(truth: GroundTruth, predictions: Predictions, *, with_matches: bool = False) -> DetectionEvaluation:
    """COCO's twelve summary numbers, AP per class, and (with_matches) each IoU threshold's
    matching, which the bootstrap and the per-object outcomes read."""
    ground, found = coco_index(truth, predictions)
    run = _run(ground, found, IOU_THRESHOLDS)
    stats = run.stats_as_dict
    metrics = {ours: float(stats[theirs]) for theirs, ours in SUMMARY_NAMES.items()}
    evaluation = DetectionEvaluation(
        metrics=metrics, classes=_classes(run, ground, found), truth=ground, detections=found
    )
    if with_matches:
        # One run per threshold: COCO matches greedily at each threshold on its own, so the
        # 0.5 matching read at IoU >= 0.75 is not the 0.75 matching.
        for threshold in IOU_THRESHOLDS:
            single = _run(ground, found, (threshold,), extra=True, all_areas_only=True)
            matched = {
                int(detection): (int(truth_id), float(iou))
                for key, iou in single.eval["matched"].items()
                for detection, truth_id in [key.split("_", 1)]
            }
            evaluation.matches.append(Matches(iou_threshold=threshold, matched=matched))
    return evaluation


def _run(
    ground: COCO, found: COCO, thresholds: tuple[float, ...], *, extra: bool = False, all_areas_only: bool = False
) -> COCOeval_faster:
    run = COCOeval_faster(ground, found, "bbox", extra_calc=extra, print_function=_quiet)
    run.params.iouThrs = np.array(thresholds)
    if all_areas_only:
        run.params.areaRng = [run.params.areaRng[0]]
        run.params.areaRngLbl = [run.params.areaRngLbl[0]]
        run.params.maxDets = [MAX_DETECTIONS]
        run.evaluate()
        run.accumulate()
        return run
    run.run()
    return run


def _classes(run: COCOeval_faster, ground: COCO, found: COCO) -> list[ClassMetrics]:
    precision = run.eval["precision"]  # [threshold, recall, class, area, max detections]
    classes = []
    for k, category_id in enumerate(run.params.catIds):
        area_all = precision[:, :, k, 0, -1]
        valid = area_all > -1
        ap = float(area_all[valid].mean()) if valid.any() else float("nan")
        at50 = area_all[0][area_all[0] > -1]
        curve = tuple(float(v) for v in area_all[0]) if (area_all[0] > -1).all() else ()
        classes.append(
            ClassMetrics(
                category_id=int(category_id),
                name=ground.cats[category_id]["name"],
                ap=ap,
                ap50=float(at50.mean()) if at50.size else float("nan"),
                ground_truth=len(ground.getAnnIds(catIds=[category_id], iscrowd=False)),
                detections=len(found.getAnnIds(catIds=[category_id])),
                precision_at_recall=curve,
            )
        )
    return classes


def _quiet(*_args: object) -> None:
    """faster-coco-eval prints progress through this; the CLI prints its own table."""
