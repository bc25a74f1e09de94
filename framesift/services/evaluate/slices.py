"""Metrics by slice, each with its support and a bootstrap 95 % interval, worst first.

A slice dimension is `class` (one slice per category: that class's AP over all images) or an
image field of the ground truth (`camera` for framesift's camera_id, `time` for the time of day
of captured_at, or any field the images carry, e.g. `weather`): one slice per value, the metrics
over that value's images. Object-size slices are COCO's own ap_small/medium/large, in the summary.

A slice may also be a query in framesift's query language (framesift.contracts.query), one slice
of the images it matches: `camera:cam-7`, `from:2026-12-01T18:00Z to:2026-12-02T06:00Z`,
`brightness<0.2` (an image field of that name, or the frame's quality metric in the service),
`class:bicycle` (that class's AP), `id:FRAME`, `window:ID` and `priority>0.6` (curate's selection
window and priority parts, in the service), or several terms at once (all must hold).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np

from framesift.contracts import splits
from framesift.contracts.query import Query, QueryError, parse
from framesift.services.evaluate import resampling
from framesift.services.evaluate.coco_input import CocoInputError, GroundTruth
from framesift.services.evaluate.resampling import MatchTable

ALIASES = {"camera": "camera_id", "time": "time_of_day"}
_FIELD = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")


@dataclass(frozen=True)
class SliceResult:
    dimension: str
    value: str
    images: int
    objects: int
    metrics: dict[str, float]
    intervals: dict[str, tuple[float, float]]

    @property
    def name(self) -> str:
        """As a query-language term: camera:cam-7, class:car, time:night (a query slice: itself)."""
        return self.value if self.dimension == "query" else f"{self.dimension}:{self.value}"


@dataclass(frozen=True)
class Comparison:
    """Model A minus model B on the same images and resamples (positive: A is better)."""

    slice: str
    images: int
    difference: dict[str, float]
    intervals: dict[str, tuple[float, float]]


def dimension_name(text: str) -> str:
    """A dimension (class, camera, time, an image field) or a query slice, checked."""
    if is_query(text):
        query_slice(text)
        return text
    if not _FIELD.match(text):
        raise CocoInputError(
            f"slice {text!r}: a slice is 'class', an image field name such as camera or time, or a query"
        )
    return text


def is_query(text: str) -> bool:
    return any(mark in text for mark in ":<>= ")


_NOT_SLICES = ("statuses", "reasons", "evaluation", "verdicts")


def query_slice(text: str) -> Query:
    try:
        query = parse(text)
    except QueryError as exc:
        raise CocoInputError(f"slice {text!r}: {exc}") from None
    if any(getattr(query, name) for name in _NOT_SLICES) or query.text or query.sort_given or query.failed is not None:
        raise CocoInputError(
            f"slice {text!r}: a slice selects by camera:, class:, id:, window:, from:, to: and FIELD<N comparisons"
        )
    return query


def _matches(image: dict[str, Any], query: Query) -> bool:
    if query.cameras and str(image.get("camera_id", image.get("camera"))) not in query.cameras:
        return False
    if query.frame_ids and str(image.get("file_name")) not in query.frame_ids:
        return False
    if query.windows and str(image.get("window")) not in query.windows:
        return False
    if query.since is not None or query.until is not None or any(c.field == "captured_at" for c in query.comparisons):
        moment = _epoch(image.get("captured_at", image.get("date_captured")))
        if moment is None:
            return False
        if (query.since is not None and moment < query.since) or (query.until is not None and moment >= query.until):
            return False
    for comparison in query.comparisons:
        value = moment if comparison.field == "captured_at" else _field_number(image, comparison.field)
        if value is None or not _holds(value, comparison.op, comparison.value):
            return False
    return True


def _field_number(image: dict[str, Any], name: str) -> float | None:
    for key in (name, f"quality_{name}"):
        value = image.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
    return None


def _holds(value: float, op: str, bound: float) -> bool:
    return {"<": value < bound, "<=": value <= bound, ">": value > bound, ">=": value >= bound, "=": value == bound}[op]


def _epoch(moment: Any) -> float | None:
    if isinstance(moment, int | float) and not isinstance(moment, bool):
        return float(moment)
    try:
        when = datetime.fromisoformat(str(moment).replace("Z", "+00:00"))
    except ValueError:
        return None
    return (when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp()


def dimension_field(name: str) -> str:
    """The image field a dimension reads (camera -> camera_id, time -> time_of_day)."""
    return ALIASES.get(name, name)


def image_groups(truth: GroundTruth, table: MatchTable, dimension: str) -> dict[str, np.ndarray]:
    """Value -> positions (into table.image_ids) of the images having it."""
    dimension = dimension_field(dimension)
    by_id = {image["id"]: image for image in truth.images}
    groups: dict[str, list[int]] = defaultdict(list)
    for at, image_id in enumerate(table.image_ids):
        value = _image_value(by_id[int(image_id)], dimension)
        if value is not None:  # an image without the field is in no slice of this dimension
            groups[value].append(at)
    if not groups:
        fields = "time_of_day, captured_at or date_captured" if dimension == "time_of_day" else repr(dimension)
        raise CocoInputError(f"slice {dimension!r}: no image of the ground truth has the field {fields}")
    return {value: np.array(positions) for value, positions in sorted(groups.items())}


def _image_value(image: dict[str, Any], dimension: str) -> str | None:
    if dimension == "time_of_day" and "time_of_day" not in image:
        moment = image.get("captured_at", image.get("date_captured"))
        return None if moment is None else part_of_day(moment)
    value = image.get(dimension)
    if value is None or isinstance(value, dict | list):
        return None
    return str(value)


def part_of_day(moment: Any) -> str | None:
    """A part of day (the splits' own) from epoch seconds or an ISO 8601 time; None if it is neither."""
    try:
        if isinstance(moment, int | float) and not isinstance(moment, bool):
            when = datetime.fromtimestamp(float(moment), UTC)
        else:
            when = datetime.fromisoformat(str(moment).replace("Z", "+00:00"))
    except (ValueError, OverflowError, OSError):
        return None
    return splits.part_of_day(when)


def by_slice(
    truth: GroundTruth,
    table: MatchTable,
    dimensions: Sequence[str],
    *,
    resamples: int,
    seed: int,
    class_names: dict[int, str],
) -> list[SliceResult]:
    results = []
    for dimension in dimensions:
        if dimension == "class":
            results.extend(_class_slices(table, resamples, seed, class_names))
            continue
        if is_query(dimension):
            results.append(_query_slice(truth, table, dimension, resamples, seed, class_names))
            continue
        all_classes = list(range(len(table.category_ids)))
        for value, positions in image_groups(truth, table, dimension).items():
            results.append(_images_slice(table, positions, all_classes, dimension, value, resamples, seed))
    return worst_first(results)


def _images_slice(
    table: MatchTable, positions: np.ndarray, columns: list[int], dimension: str, value: str, resamples: int, seed: int
) -> SliceResult:
    """The metrics of these images (and these classes' columns), with their bootstrap intervals."""
    part = table.restricted(positions)
    point = resampling.summary(resampling.average_precision(part, np.ones((1, part.images)))[:, :, columns])
    drawn = resampling.average_precision(part, resampling.draws(part.images, resamples, seed))[:, :, columns]
    samples = resampling.summary(drawn)
    return SliceResult(
        dimension=dimension,
        value=value,
        images=part.images,
        objects=int(part.truth_per_image[:, columns].sum()),
        metrics={name: float(values[0]) for name, values in point.items()},
        intervals={name: resampling.interval(values) for name, values in samples.items()},
    )


def query_positions(truth: GroundTruth, table: MatchTable, text: str, query: Query) -> np.ndarray:
    by_id = {image["id"]: image for image in truth.images}
    positions = np.array([at for at, image_id in enumerate(table.image_ids) if _matches(by_id[int(image_id)], query)])
    if len(positions) == 0:
        raise CocoInputError(f"slice {text!r}: no image matches it")
    return positions


def _query_slice(
    truth: GroundTruth, table: MatchTable, text: str, resamples: int, seed: int, class_names: dict[int, str]
) -> SliceResult:
    query = query_slice(text)
    positions = query_positions(truth, table, text, query)
    columns = list(range(len(table.category_ids)))
    if query.classes:
        known = {class_names[category_id]: k for k, category_id in enumerate(table.category_ids)}
        unknown = [name for name in query.classes if name not in known]
        if unknown:
            raise CocoInputError(f"slice {text!r}: no class {unknown[0]!r}; classes: {', '.join(sorted(known))}")
        columns = [known[name] for name in query.classes]
    return _images_slice(table, positions, columns, "query", text, resamples, seed)


def _class_slices(table: MatchTable, resamples: int, seed: int, class_names: dict[int, str]) -> list[SliceResult]:
    point = resampling.average_precision(table, np.ones((1, table.images)))[0]  # [threshold, class]
    samples = resampling.average_precision(table, resampling.draws(table.images, resamples, seed))
    results = []
    for k, category_id in enumerate(table.category_ids):
        objects = int(table.truth_per_image[:, k].sum())
        if objects == 0:
            continue  # COCO leaves a class without ground truth out; so does the slice list
        results.append(
            SliceResult(
                dimension="class",
                value=class_names[category_id],
                images=int((table.truth_per_image[:, k] > 0).sum()),
                objects=objects,
                metrics={"map": float(point[:, k].mean()), "ap50": float(point[0, k])},
                intervals={
                    "map": resampling.interval(samples[:, :, k].mean(axis=1)),
                    "ap50": resampling.interval(samples[:, 0, k]),
                },
            )
        )
    return results


def worst_first(results: list[SliceResult]) -> list[SliceResult]:
    return sorted(results, key=lambda result: (result.metrics["map"], result.name))


def compare(
    truth: GroundTruth,
    table_a: MatchTable,
    table_b: MatchTable,
    dimensions: Sequence[str],
    *,
    resamples: int,
    seed: int,
) -> list[Comparison]:
    """Paired bootstrap of A - B: overall, then per image slice (same draws for both models)."""
    parts: list[tuple[str, np.ndarray]] = [("all", np.arange(table_a.images))]
    for dimension in dimensions:
        if is_query(dimension):
            query = query_slice(dimension)
            if query.classes:
                raise CocoInputError(f"slice {dimension!r}: a comparison is over all classes; leave class: out")
            parts.append((dimension, query_positions(truth, table_a, dimension, query)))
        elif dimension != "class":
            parts.extend(
                (f"{dimension}:{value}", positions)
                for value, positions in image_groups(truth, table_a, dimension).items()
            )
    comparisons = []
    for name, positions in parts:
        a, b = table_a.restricted(positions), table_b.restricted(positions)
        ones = np.ones((1, a.images))
        weights = resampling.draws(a.images, resamples, seed)
        point_a, point_b = (
            resampling.summary(resampling.average_precision(a, ones)),
            resampling.summary(resampling.average_precision(b, ones)),
        )
        samples_a = resampling.summary(resampling.average_precision(a, weights))
        samples_b = resampling.summary(resampling.average_precision(b, weights))
        comparisons.append(
            Comparison(
                slice=name,
                images=a.images,
                difference={metric: float(point_a[metric][0] - point_b[metric][0]) for metric in point_a},
                intervals={metric: resampling.interval(samples_a[metric] - samples_b[metric]) for metric in samples_a},
            )
        )
    return comparisons
