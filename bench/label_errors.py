"""Label-error candidates: precision and recall per type on errors injected into labels, at the
calibrated thresholds, on seeds and detectors the calibration never saw; against cleanlab's own
`find_label_issues` (its defaults) at the image level.

Data: tests/support/coco_sets.py's world (1280x720 frames, four classes, boxes of every COCO size)
and a detector of that world (jittered boxes, misses, 10 % wrong classes, false alarms; `skill`
sets its accuracy and confidence). The labels are the world with mistakes injected, each box at
most one, 5 % of boxes per kind:
  overlooked     the box is left out of the labels (the detector may still see the object)
  badly_located  the box is moved by 35-60 % of its size, or grown or shrunk by a factor 1.8-2.5
  swapped        the box is given another class
A candidate counts as right when it names the injected mistake: an overlooked candidate within
IoU 0.5 of a left-out box, a badly-located or swapped candidate on the changed box.

Calibration: seed 0, skill 0.75; for each type the threshold (in steps of 0.01) with the best F0.5
(precision weighs twice recall: every flag costs a reviewer's look).
The table then shows every seed and skill with those thresholds.

Run: .venv/bin/python -m bench.label_errors [--images 1500]
"""

from __future__ import annotations

import argparse
import copy
import warnings

import numpy as np
from rich.console import Console
from rich.table import Table

from framesift.services.evaluate import label_errors
from framesift.services.evaluate.coco_input import ground_truth, predictions
from framesift.services.evaluate.label_errors import LabelErrorThresholds, LabelIssue
from tests.support import coco_sets

KINDS = [issue.value for issue in LabelIssue]
SHARE = 0.05
CONFIDENT = LabelErrorThresholds().confident_score


def inject(world: dict, seed: int) -> tuple[dict, dict[str, set]]:
    """The labels: the world with mistakes; and what was changed (annotation ids; left-out boxes)."""
    rng = np.random.default_rng(seed)
    labels = copy.deepcopy(world)
    classes = [c["id"] for c in world["categories"]]
    kept, changed = [], {kind: set() for kind in KINDS}
    left_out: list[tuple[int, list[float]]] = []
    for annotation in labels["annotations"]:
        draw = rng.random()
        x, y, w, h = annotation["bbox"]
        if draw < SHARE:
            left_out.append((annotation["image_id"], annotation["bbox"]))
            continue
        if draw < 2 * SHARE:
            if rng.random() < 0.5:
                dx, dy = rng.uniform(0.35, 0.6) * rng.choice([-1, 1]), rng.uniform(0.35, 0.6) * rng.choice([-1, 1])
                annotation["bbox"] = [max(0.0, x + dx * w), max(0.0, y + dy * h), w, h]
            else:
                factor = rng.uniform(1.8, 2.5) if rng.random() < 0.5 else 1 / rng.uniform(1.8, 2.5)
                nw, nh = w * factor, h * factor
                annotation["bbox"] = [max(0.0, x + (w - nw) / 2), max(0.0, y + (h - nh) / 2), nw, nh]
            changed[LabelIssue.BADLY_LOCATED.value].add(annotation["id"])
        elif draw < 3 * SHARE:
            annotation["category_id"] = int(rng.choice([c for c in classes if c != annotation["category_id"]]))
            changed[LabelIssue.SWAPPED.value].add(annotation["id"])
        annotation["area"] = annotation["bbox"][2] * annotation["bbox"][3]
        kept.append(annotation)
    labels["annotations"] = kept
    changed[LabelIssue.OVERLOOKED.value] = set(range(len(left_out)))
    return labels, {"changed": changed, "left_out": left_out}


def _iou(a: list[float], b: list[float]) -> float:
    ax2, ay2, bx2, by2 = a[0] + a[2], a[1] + a[3], b[0] + b[2], b[1] + b[3]
    inter = max(0.0, min(ax2, bx2) - max(a[0], b[0])) * max(0.0, min(ay2, by2) - max(a[1], b[1]))
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union > 0 else 0.0


def outcomes(scores, truth_of, thresholds: LabelErrorThresholds) -> dict[str, tuple[int, int, int]]:
    """Per type: (candidates, right candidates, injected)."""
    found = label_errors.candidates(scores, thresholds)
    result = {}
    left_out = truth_of["left_out"]
    for kind in KINDS:
        mine = [c for c in found if c.issue.value == kind]
        if kind == LabelIssue.OVERLOOKED.value:
            right = sum(1 for c in mine if any(i == c.image_id and _iou(c.box, box) >= 0.5 for i, box in left_out))
            injected = len(left_out)
        else:
            right = sum(1 for c in mine if c.annotation_id in truth_of["changed"][kind])
            injected = len(truth_of["changed"][kind])
        result[kind] = (len(mine), right, injected)
    return result


def calibrate(scores, truth_of) -> LabelErrorThresholds:
    best = {}
    for kind in KINDS:
        best_f1, best_t = -1.0, 0.0
        for threshold in [0.001, 0.002, 0.005, *np.arange(0.01, 1.0, 0.01)]:
            trial = LabelErrorThresholds(
                **{k: (float(threshold) if k == kind else 0.0) for k in KINDS}, confident_score=CONFIDENT
            )
            made, right, injected = outcomes(scores, truth_of, trial)[kind]
            precision = right / made if made else 0.0
            recall = right / injected if injected else 0.0
            # F0.5: precision weighs twice recall, since every flag costs a reviewer's look.
            f_half = 1.25 * precision * recall / (0.25 * precision + recall) if precision + recall else 0.0
            if f_half > best_f1:
                best_f1, best_t = f_half, round(float(threshold), 3)
        best[kind] = best_t
    return LabelErrorThresholds(**best, confident_score=CONFIDENT)


def cleanlab_default(scores, truth_of, labels_doc) -> tuple[float, float]:
    """cleanlab's find_label_issues with its defaults: image-level precision and recall."""
    from cleanlab.object_detection.filter import find_label_issues

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        flagged = find_label_issues(scores.labels, scores.predictions)
    with_error = set()
    for kind in (LabelIssue.BADLY_LOCATED.value, LabelIssue.SWAPPED.value):
        for annotation in labels_doc["annotations"]:
            if annotation["id"] in truth_of["changed"][kind]:
                with_error.add(annotation["image_id"])
    with_error |= {image_id for image_id, _ in truth_of["left_out"]}
    flagged_ids = {scores.image_ids[i] for i in np.flatnonzero(flagged)}
    precision = len(flagged_ids & with_error) / len(flagged_ids) if flagged_ids else 0.0
    return precision, len(flagged_ids & with_error) / len(with_error)


def world_and_scores(images: int, seed: int, skill: float):
    world = coco_sets.ground_truth(images, seed=seed, crowd=0.0)
    labels_doc, truth_of = inject(world, seed + 100)
    found_doc = coco_sets.detections(world, seed=seed + 200, skill=skill)
    truth = ground_truth(labels_doc, source="labels")
    found = predictions(found_doc, truth, source="model")
    return labels_doc, truth_of, label_errors.box_scores(truth, found, confident_score=CONFIDENT)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=1500)
    args = parser.parse_args()

    _, truth_of, scores = world_and_scores(args.images, seed=0, skill=0.75)
    thresholds = calibrate(scores, truth_of)
    print(f"calibrated on seed 0, skill 0.75: {thresholds.model_dump()}")
    print(f"the defaults in LabelErrorThresholds: {LabelErrorThresholds().model_dump()}")
    grid = Table(title=f"label-error candidates, {args.images} images per run, 5 % of boxes per kind injected")
    for column in ("seed", "skill", *[f"{k} P / R" for k in KINDS], "any, image-level P / R", "cleanlab default P / R"):
        grid.add_column(column, justify="right")
    for seed in (0, 1, 2):
        for skill in (0.6, 0.75, 0.9):
            labels_doc, truth_of, scores = world_and_scores(args.images, seed=seed, skill=skill)
            result = outcomes(scores, truth_of, thresholds)
            cells = []
            for kind in KINDS:
                made, right, injected = result[kind]
                cells.append(f"{right / made if made else 0:.2f} / {right / injected if injected else 0:.2f}")
            found = label_errors.candidates(scores, thresholds)
            flagged = {c.image_id for c in found}
            with_error = {i for i, _ in truth_of["left_out"]} | {
                a["image_id"] for a in labels_doc["annotations"]
                if a["id"] in truth_of["changed"]["badly_located"] | truth_of["changed"]["swapped"]
            }  # fmt: skip
            ours = f"{len(flagged & with_error) / len(flagged):.2f} / {len(flagged & with_error) / len(with_error):.2f}"
            theirs = "{:.2f} / {:.2f}".format(*cleanlab_default(scores, truth_of, labels_doc))
            grid.add_row(str(seed), f"{skill:.2f}", *cells, ours, theirs)
    Console(width=160).print(grid)


if __name__ == "__main__":
    main()
