"""One evaluation of COCO files: summary, per class, slices with intervals, an optional paired
comparison against a baseline model, and per-object outcomes; as a JSON object or a table.

`framesift evaluate` prints this; the evaluate service will store and publish the same object.
"""

from __future__ import annotations

import io
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from framesift.services.evaluate import coco_input, detection_metrics, slices
from framesift.services.evaluate.detection_metrics import ClassMetrics, DetectionEvaluation
from framesift.services.evaluate.resampling import MatchTable
from framesift.services.evaluate.slices import Comparison, SliceResult

DEFAULT_RESAMPLES = 1000
WIDTH = 100


@dataclass
class Report:
    images: int
    objects: int
    detections: int
    metrics: dict[str, float]
    classes: list[ClassMetrics]
    slices: list[SliceResult] = field(default_factory=list)
    comparison: list[Comparison] = field(default_factory=list)
    resamples: int = DEFAULT_RESAMPLES
    seed: int = 0

    def as_json(self) -> dict[str, Any]:
        return {
            "images": self.images,
            "objects": self.objects,
            "detections": self.detections,
            "metrics": {name: _number(value) for name, value in self.metrics.items()},
            "classes": [
                {
                    "id": item.category_id,
                    "name": item.name,
                    "ap": _number(item.ap),
                    "ap50": _number(item.ap50),
                    "objects": item.ground_truth,
                    "detections": item.detections,
                    # precision at recall 0, 0.01, ..., 1 (IoU 0.5): the PR curve, for a UI to draw
                    "pr50": [round(v, 4) for v in item.precision_at_recall],
                }
                for item in self.classes
            ],
            "slices": [
                {
                    "slice": item.name,
                    "images": item.images,
                    "objects": item.objects,
                    "metrics": {name: _number(value) for name, value in item.metrics.items()},
                    "ci95": {name: [_number(low), _number(high)] for name, (low, high) in item.intervals.items()},
                }
                for item in self.slices
            ],
            "comparison": [
                {
                    "slice": item.slice,
                    "images": item.images,
                    "difference": {name: _signed(value) for name, value in item.difference.items()},
                    "ci95": {name: [_signed(low), _signed(high)] for name, (low, high) in item.intervals.items()},
                    "verdict": verdict(item),
                }
                for item in self.comparison
            ],
            "bootstrap": {"resamples": self.resamples, "seed": self.seed, "unit": "image"},
        }


def load_files(
    truth_path: Path, predictions_path: Path, baseline_path: Path | None = None
) -> tuple[coco_input.GroundTruth, coco_input.Predictions, coco_input.Predictions | None]:
    """The ground truth, the model's results and a baseline's, read and checked once."""
    truth = coco_input.ground_truth(coco_input.read_json(truth_path), source=str(truth_path))
    found = coco_input.predictions(coco_input.read_json(predictions_path), truth, source=str(predictions_path))
    baseline = None
    if baseline_path is not None:
        baseline = coco_input.predictions(coco_input.read_json(baseline_path), truth, source=str(baseline_path))
    return truth, found, baseline


def evaluate(
    truth: coco_input.GroundTruth,
    found: coco_input.Predictions,
    *,
    dimensions: Sequence[str] = (),
    baseline: coco_input.Predictions | None = None,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
    objects: bool = False,
) -> tuple[Report, DetectionEvaluation]:
    """objects: keep the matching for object_outcomes (it costs one COCO run per IoU threshold,
    which slices and comparisons need anyway)."""
    names = [slices.dimension_name(text) for text in dimensions]
    needs_matches = bool(names) or baseline is not None
    evaluation = detection_metrics.evaluate(truth, found, with_matches=needs_matches or objects)
    report = Report(
        images=len(truth.images),
        objects=sum(1 for item in truth.annotations if not item.get("iscrowd")),
        detections=len(found.detections),
        metrics=evaluation.metrics,
        classes=evaluation.classes,
        resamples=resamples,
        seed=seed,
    )
    if needs_matches:
        table = MatchTable.from_evaluation(evaluation)
        class_names = {item.category_id: item.name for item in evaluation.classes}
        report.slices = slices.by_slice(truth, table, names, resamples=resamples, seed=seed, class_names=class_names)
        if baseline is not None:
            other = MatchTable.from_evaluation(detection_metrics.evaluate(truth, baseline, with_matches=True))
            report.comparison = slices.compare(truth, table, other, names, resamples=resamples, seed=seed)
    return report, evaluation


def object_outcomes(evaluation: DetectionEvaluation) -> Iterator[dict[str, Any]]:
    """Per object at IoU 0.5, COCO's matching: a detection is tp (with the box it matched and
    the IoU) or fp, a ground-truth box is tp or fn; crowd regions are neither."""
    matches = evaluation.matches[0]
    matched_truth = {truth_id: detection_id for detection_id, (truth_id, _) in matches.matched.items()}
    for detection_id, detection in sorted(evaluation.detections.anns.items()):
        hit = matches.matched.get(detection_id)
        row = {"kind": "detection", "id": detection_id, "image_id": detection["image_id"]}
        row |= {"category_id": detection["category_id"], "score": detection["score"]}
        if hit is None:
            yield row | {"outcome": "fp"}
        elif not evaluation.truth.anns[hit[0]].get("iscrowd", 0):
            yield row | {"outcome": "tp", "truth_id": hit[0], "iou": round(hit[1], 4)}
    for truth_id, annotation in sorted(evaluation.truth.anns.items()):
        if annotation.get("iscrowd", 0):
            continue
        row = {"kind": "truth", "id": truth_id, "image_id": annotation["image_id"]}
        row["category_id"] = annotation["category_id"]
        detection_id = matched_truth.get(truth_id)
        yield row | ({"outcome": "fn"} if detection_id is None else {"outcome": "tp", "detection_id": detection_id})


def verdict(comparison: Comparison) -> str:
    low, high = comparison.intervals["map"]
    if math.isnan(low):
        return "too few images to say"
    if low > 0:
        return "better"
    if high < 0:
        return "worse"
    return "within the noise"


def lines(report: Report) -> list[str]:
    out = [
        f"{report.images} images, {report.objects} objects, {report.detections} detections",
        "  ".join(f"{name} {report.metrics[name]:.3f}" for name in ("map", "ap50", "ap75", "ar100")),
        "  ".join(f"{name} {_fixed(report.metrics[name])}" for name in ("ap_small", "ap_medium", "ap_large")),
        "",
    ]
    table = grid(("class", 20), ("AP", 6), ("AP50", 6), ("objects", 8), ("detections", 10))
    for item in sorted(report.classes, key=lambda item: (_sort_key(item.ap), item.name)):
        table.add_row(item.name, _fixed(item.ap), _fixed(item.ap50), str(item.ground_truth), str(item.detections))
    out += render(table)
    if report.slices:
        out += ["", f"slices, worst first (95 % intervals from {report.resamples} image resamples)"]
        table = grid(("slice", 28), ("images", 7), ("objects", 8), ("mAP", 6), ("95 % CI", 14), ("AP50", 6))
        for item in report.slices:
            table.add_row(
                item.name, str(item.images), str(item.objects), _fixed(item.metrics["map"]),
                _span(item.intervals["map"]), _fixed(item.metrics["ap50"]),
            )  # fmt: skip
        out += render(table)
    if report.comparison:
        out += ["", "model minus baseline (paired bootstrap, same images)"]
        table = grid(("slice", 28), ("images", 7), ("mAP diff", 9), ("95 % CI", 16), ("verdict", 22))
        for item in report.comparison:
            difference = f"{item.difference['map']:+.3f}"
            table.add_row(
                item.slice, str(item.images), difference, _span(item.intervals["map"], signed=True), verdict(item)
            )
        out += render(table)
    return out


def grid(*columns: tuple[str, int]) -> Table:
    table = Table(box=None, pad_edge=False, show_edge=False, header_style="", padding=(0, 1, 0, 0))
    for name, width in columns:
        table.add_column(name, min_width=width, no_wrap=True)
    return table


def render(table: Table) -> list[str]:
    buffer = io.StringIO()
    Console(file=buffer, width=WIDTH, color_system=None, legacy_windows=False).print(table)
    return [line.rstrip() for line in buffer.getvalue().splitlines()]


def _fixed(value: float) -> str:
    return "-" if math.isnan(value) or value < 0 else f"{value:.3f}"


def _span(interval: tuple[float, float], *, signed: bool = False) -> str:
    low, high = interval
    if math.isnan(low):
        return "-"
    return f"[{low:+.3f}, {high:+.3f}]" if signed else f"[{low:.3f}, {high:.3f}]"


def _sort_key(value: float) -> float:
    return math.inf if math.isnan(value) else value


def _number(value: float) -> float | None:
    """JSON has no nan: a metric that is undefined (no ground truth) is null. COCO writes -1
    for an empty area range; that is undefined too."""
    return None if math.isnan(value) or value < 0 else round(float(value), 6)


def _signed(value: float) -> float | None:
    return None if math.isnan(value) else round(float(value), 6)
