"""Bootstrap intervals for COCO AP: resample images, keep faster-coco-eval's matches.

A resample draws images with replacement; an image drawn twice counts twice. Matching is per
image, so a resample never needs a new matching, only COCO's accumulate step again with each
image weighted by how often it was drawn: the precision/recall sweep over the detections in
score order, precision made monotone, read at COCO's 101 recall points. That step is written
here, vectorised over resamples; with every weight 1 it gives faster-coco-eval's own AP (tested),
which is what ties the intervals to the reported numbers.

Paired intervals (model A against model B on the same images) use the same draws for both.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from framesift.services.evaluate.detection_metrics import MAX_DETECTIONS, DetectionEvaluation

RECALL_POINTS = np.linspace(0.0, 1.0, 101)
_CHUNK_CELLS = 4_000_000  # resamples x detections per step: bounds memory to ~100 MB


@dataclass(frozen=True)
class ClassDetections:
    """One class's detections in COCO's accumulate order (score descending, at most 100 per
    image), with their image and, per IoU threshold, whether each matched / is ignored."""

    image: np.ndarray  # int, position of the image in MatchTable.image_ids
    true_positive: np.ndarray  # bool [threshold, detection]
    ignored: np.ndarray  # bool [threshold, detection]: matched a crowd region


@dataclass(frozen=True)
class MatchTable:
    image_ids: np.ndarray  # COCO image ids, in COCO's (sorted) order
    category_ids: list[int]
    truth_per_image: np.ndarray  # int [image, class]: ground-truth boxes that count (not crowd)
    classes: list[ClassDetections]

    @classmethod
    def from_evaluation(cls, evaluation: DetectionEvaluation) -> MatchTable:
        if not evaluation.matches:
            raise ValueError("the evaluation was run without matches (with_matches=True)")
        truth, found = evaluation.truth, evaluation.detections
        image_ids = np.array(sorted(truth.getImgIds()))
        position = {int(image_id): at for at, image_id in enumerate(image_ids)}
        category_ids = sorted(truth.getCatIds())
        counts = np.zeros((len(image_ids), len(category_ids)), dtype=np.int64)
        column = {category_id: k for k, category_id in enumerate(category_ids)}
        crowd = set()
        for annotation in truth.anns.values():
            if annotation.get("iscrowd", 0):
                crowd.add(annotation["id"])
            else:
                counts[position[annotation["image_id"]], column[annotation["category_id"]]] += 1
        per_class = []
        for category_id in category_ids:
            ids, images, scores = [], [], []
            for detection_id in found.getAnnIds(catIds=[category_id]):
                detection = found.anns[detection_id]
                ids.append(detection_id)
                images.append(position[detection["image_id"]])
                scores.append(detection["score"])
            ids_a, images_a, scores_a = (
                np.array(ids, dtype=np.int64),
                np.array(images, dtype=np.int64),
                np.array(scores),
            )
            # COCO: per image the top 100 by score, then all images' lists (in image order)
            # merged by score with a stable sort.
            by_image = np.lexsort((-scores_a, images_a))
            images_s = images_a[by_image]
            rank = np.arange(len(by_image)) - np.searchsorted(images_s, images_s, side="left")
            kept = by_image[rank < MAX_DETECTIONS]
            order = kept[np.argsort(-scores_a[kept], kind="mergesort")]
            ids_o = ids_a[order]
            hits = np.zeros((len(evaluation.matches), len(order)), dtype=bool)
            ignored = np.zeros_like(hits)
            for t, matches in enumerate(evaluation.matches):
                for at, detection_id in enumerate(ids_o):
                    hit = matches.matched.get(int(detection_id))
                    if hit is not None:
                        ignored[t, at] = hit[0] in crowd
                        hits[t, at] = not ignored[t, at]
            per_class.append(ClassDetections(image=images_a[order], true_positive=hits, ignored=ignored))
        return cls(image_ids=image_ids, category_ids=category_ids, truth_per_image=counts, classes=per_class)

    @property
    def images(self) -> int:
        return len(self.image_ids)

    def restricted(self, positions: np.ndarray) -> MatchTable:
        """The same table for a subset of the images (a slice), positions into image_ids."""
        positions = np.sort(np.asarray(positions, dtype=np.int64))
        remap = np.full(self.images, -1, dtype=np.int64)
        remap[positions] = np.arange(len(positions))
        classes = []
        for detections in self.classes:
            keep = remap[detections.image] >= 0
            classes.append(
                ClassDetections(
                    image=remap[detections.image[keep]],
                    true_positive=detections.true_positive[:, keep],
                    ignored=detections.ignored[:, keep],
                )
            )
        return MatchTable(
            image_ids=self.image_ids[positions],
            category_ids=self.category_ids,
            truth_per_image=self.truth_per_image[positions],
            classes=classes,
        )


def draws(images: int, resamples: int, seed: int) -> np.ndarray:
    """How often each image is drawn in each resample: int [resample, image], rows summing to
    `images`. Fixed by the seed, so a report can be reproduced."""
    rng = np.random.default_rng(seed)
    return rng.multinomial(images, np.full(images, 1.0 / images), size=resamples)


def average_precision(table: MatchTable, weights: np.ndarray) -> np.ndarray:
    """AP per resample, IoU threshold and class: float [resample, threshold, class], nan where a
    class has no ground truth in that resample (COCO leaves such a class out of the mean)."""
    weights = np.atleast_2d(weights).astype(np.float64)
    thresholds = table.classes[0].true_positive.shape[0] if table.classes else 0
    result = np.full((len(weights), thresholds, len(table.category_ids)), np.nan)
    for k, detections in enumerate(table.classes):
        truth = weights @ table.truth_per_image[:, k]
        has_truth = truth > 0
        if not has_truth.any():
            continue
        if len(detections.image) == 0:
            result[has_truth, :, k] = 0.0
            continue
        step = max(1, _CHUNK_CELLS // len(detections.image))
        for start in range(0, len(weights), step):
            rows = slice(start, start + step)
            result[rows, :, k] = _class_ap(weights[rows][:, detections.image], detections, truth[rows])
    return result


def _class_ap(drawn: np.ndarray, detections: ClassDetections, truth: np.ndarray) -> np.ndarray:
    """[resample, threshold] AP of one class. Only the true positives' columns are swept: recall
    rises only at a true positive, and a false positive's precision is below the true positive's
    before it, so COCO's precision envelope read at its recall points is the same taken over
    those columns alone. The false positives enter through the counted running total."""
    thresholds = detections.true_positive.shape[0]
    ap = np.full((len(drawn), thresholds), np.nan)
    counted_total, counted_for = None, None
    for t in range(thresholds):
        ignored = detections.ignored[t]
        if counted_for is None or not np.array_equal(ignored, counted_for):
            counted_total = np.cumsum(drawn * ~ignored, axis=1)  # usually the same for every threshold
            counted_for = ignored
        columns = np.flatnonzero(detections.true_positive[t])
        ap[:, t] = _ap(drawn[:, columns], counted_total[:, columns], truth)
    return ap


def _ap(hits: np.ndarray, counted: np.ndarray, truth: np.ndarray) -> np.ndarray:
    ap = np.full(len(hits), np.nan)
    has_truth = truth > 0
    if hits.shape[1] == 0:
        ap[has_truth] = 0.0
        return ap
    true_pos = np.cumsum(hits, axis=1)
    false_pos = counted - true_pos
    with np.errstate(divide="ignore", invalid="ignore"):
        recall = true_pos / truth[:, None]
    precision = true_pos / (true_pos + false_pos + np.spacing(1))  # COCO's own guard against 0/0
    precision = np.maximum.accumulate(precision[:, ::-1], axis=1)[:, ::-1]
    # COCO reads the envelope at the first column whose recall reaches each recall point: one
    # searchsorted over all rows, each row shifted by 2 x its number. Exact: recall is a ratio of
    # integers (< 1e6) and differs from a recall point by 0 or by more than 1e-8, far above the
    # rounding of the shift (~5e-13 at a shift of 2 000).
    rows = np.flatnonzero(has_truth)
    width = recall.shape[1]
    shift = 2.0 * np.arange(len(rows))[:, None]
    at = np.searchsorted((recall[rows] + shift).ravel(), (RECALL_POINTS[None, :] + shift).ravel(), side="left")
    at = at.reshape(len(rows), len(RECALL_POINTS)) - np.arange(len(rows))[:, None] * width
    read = np.take_along_axis(precision[rows], np.minimum(at, width - 1), axis=1)
    ap[rows] = np.where(at < width, read, 0.0).sum(axis=1) / len(RECALL_POINTS)
    return ap


def summary(ap: np.ndarray) -> dict[str, np.ndarray]:
    """map (AP@[.5:.95]) and ap50 per resample from average_precision's array."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an all-nan row (no ground truth drawn) is nan
        return {"map": np.nanmean(ap.mean(axis=1), axis=1), "ap50": np.nanmean(ap[:, 0, :], axis=1)}


def interval(samples: np.ndarray, level: float = 0.95) -> tuple[float, float]:
    """Percentile interval; (nan, nan) when too few resamples had the metric defined."""
    finite = samples[np.isfinite(samples)]
    if len(finite) < max(10, len(samples) // 2):
        return float("nan"), float("nan")
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(finite, [tail, 100 - tail])
    return float(low), float(high)
