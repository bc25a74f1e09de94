"""What labelling costs and how good it is: tasks by state, the reviewed error rate with its 95 %
interval per labeller, class and camera (random reviews only: see review.py), and what happened
to the pre-labels per class and model version (kept, adjusted, deleted; boxes added), with the
median time per task with and without pre-labels."""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection

from . import review
from .qa import match_boxes
from .tables import LabelTask, ReviewRecord

TASKS = LabelTask.__table__
REVIEWS = ReviewRecord.__table__
ADJUSTED_IOU = 0.5  # a label on the pre-label's object (moved or resized): "adjusted", not "added"


def _rates(counts: dict[str, list[int]]) -> dict[str, dict[str, Any]]:
    out = {}
    for key, (errors, reviewed) in sorted(counts.items()):
        rate = review.error_rate(errors, reviewed)
        if rate is not None:
            out[key] = {
                "reviewed": rate.reviewed,
                "errors": rate.errors,
                "rate": rate.rate,
                "low": rate.low,
                "high": rate.high,
            }
    return out


def error_rates(connection: Connection, since: float = 0.0) -> dict[str, Any]:
    by: dict[str, dict[str, list[int]]] = {"labeller": {}, "class": {}, "camera": {}}
    overall = [0, 0]
    for row in connection.execute(
        sa.select(REVIEWS.c.labeller, REVIEWS.c.camera_id, REVIEWS.c.classes, REVIEWS.c.verdict).where(
            REVIEWS.c.random.is_(True), REVIEWS.c.at >= since
        )
    ).mappings():
        wrong = int(row["verdict"] in review.ERRORS)
        keys = [("labeller", row["labeller"]), ("camera", row["camera_id"])]
        keys += [("class", name) for name in filter(None, row["classes"].split(","))]
        for group, key in keys:
            counts = by[group].setdefault(key, [0, 0])
            counts[0] += wrong
            counts[1] += 1
        overall[0] += wrong
        overall[1] += 1
    return {
        "overall": _rates({"all": overall}).get("all"),
        **{f"by_{group}": _rates(counts) for group, counts in by.items()},
    }


def prelabel_costs(connection: Connection) -> dict[str, Any]:
    """Per "model/version" and class, over done tasks: the labeller's work against the pre-labels."""
    figures: dict[str, dict[str, Counter]] = defaultdict(lambda: defaultdict(Counter))
    times: dict[bool, list[float]] = {True: [], False: []}
    rows = connection.execute(
        sa.select(TASKS.c.model, TASKS.c.prelabels, TASKS.c.annotations, TASKS.c.labelling_seconds).where(
            TASKS.c.submitted_at.is_not(None), TASKS.c.labeller.is_not(None)
        )
    ).mappings()
    for row in rows:
        prelabels, labels = row["prelabels"], row["annotations"]
        if row["labelling_seconds"] is not None:
            times[bool(prelabels)].append(float(row["labelling_seconds"]))
        model = figures[row["model"] or "none"]
        matched = match_boxes(labels, prelabels, ADJUSTED_IOU)
        for pi, pre in enumerate(prelabels):
            if pi not in matched:
                model[pre["class"]]["deleted"] += 1
                continue
            label = labels[matched[pi]]
            kind = "kept" if label["from_prelabel"] else "adjusted" if label["class"] == pre["class"] else "reclassed"
            model[pre["class"]][kind] += 1
        for ai in set(range(len(labels))) - set(matched.values()):
            model[labels[ai]["class"]]["added"] += 1
    kinds = ("kept", "adjusted", "reclassed", "deleted", "added")
    return {
        "by_model": {
            name: {cls: {k: counts[k] for k in kinds} for cls, counts in sorted(classes.items())}
            for name, classes in sorted(figures.items())
        },
        "median_seconds_with_prelabels": statistics.median(times[True]) if times[True] else None,
        "median_seconds_without_prelabels": statistics.median(times[False]) if times[False] else None,
    }


def task_counts(connection: Connection) -> dict[str, int]:
    rows = connection.execute(sa.select(TASKS.c.state, sa.func.count()).group_by(TASKS.c.state))
    return {state: count for state, count in rows}


def summary(connection: Connection, since: float = 0.0) -> dict[str, Any]:
    return {
        "tasks": task_counts(connection),
        "error_rate": error_rates(connection, since),
        "prelabels": prelabel_costs(connection),
    }
