"""What evaluate keeps of the topics, and the COCO documents a run is computed from.

Both folds are idempotent: a redelivered labels.completed or frames.embedded writes the same row
again. A frame relabelled later (a reviewer's correction) replaces its truth; an older event
arriving after a newer one changes nothing.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy import Connection

from framesift.contracts.vocabulary import seconds
from framesift.sql.columns import insert_for
from framesift.v1 import frames_pb2, labels_pb2

from .coco_input import GroundTruth, Predictions
from .tables import Prediction, Selection, Truth

TRUTH = Truth.__table__
PREDICTIONS = Prediction.__table__
SELECTIONS = Selection.__table__


def model_version(event: frames_pb2.FrameEmbedded) -> str:
    return f"{event.model_name}/{event.model_version}"


def _box(box: frames_pb2.Box) -> list[float]:
    return [box.x_min, box.y_min, box.x_max, box.y_max]


def record_truth(connection: Connection, event: labels_pb2.LabelsCompleted) -> None:
    if event.withdrawn:  # its labels were deleted in the labelling tool: no truth until new ones
        older = TRUTH.c.completed_at <= seconds(event.completed_at)
        connection.execute(TRUTH.delete().where(TRUTH.c.frame_id == event.frame_id, older))
        return
    row = {
        "frame_id": event.frame_id,
        "camera_id": event.camera_id,
        "captured_at": seconds(event.captured_at),
        "width": event.width,
        "height": event.height,
        "object_key": event.object_key,
        "split": event.split,
        "ontology_version": event.ontology_version,
        "annotations": [{"class_id": a.class_id, "class": a.class_name, "box": _box(a.box)} for a in event.annotations],
        "completed_at": seconds(event.completed_at),
    }
    insert = insert_for(connection.dialect.name, TRUTH).values(**row)
    changes = {name: insert.excluded[name] for name in row if name != "frame_id"}
    connection.execute(
        insert.on_conflict_do_update(
            index_elements=["frame_id"], set_=changes, where=insert.excluded.completed_at >= TRUTH.c.completed_at
        )
    )


def record_predictions(connection: Connection, event: frames_pb2.FrameEmbedded, now: float) -> None:
    row = {
        "frame_id": event.frame_id,
        "model_version": model_version(event),
        "detections": [{"class": d.class_name, "score": d.score, "box": _box(d.box)} for d in event.detections],
        "metrics": dict(event.metrics),
        "received_at": now,
    }
    insert = insert_for(connection.dialect.name, PREDICTIONS).values(**row)
    connection.execute(
        insert.on_conflict_do_update(
            index_elements=["frame_id", "model_version"],
            set_={"detections": insert.excluded.detections, "metrics": insert.excluded.metrics},
        )
    )


def record_selection(connection: Connection, event: frames_pb2.FrameSelected) -> None:
    part = event.priority
    row = {
        "frame_id": event.frame_id,
        "selection_batch": event.selection_batch,
        "priority": {"priority": part.total, "uncertainty": part.uncertainty, "rarity": part.rarity,
                     "novelty": part.novelty, "quality": part.quality},
    }  # fmt: skip
    insert = insert_for(connection.dialect.name, SELECTIONS).values(**row)
    connection.execute(insert.on_conflict_do_nothing(index_elements=["frame_id"]))  # a frame is chosen once


def drop_unlabelled(connection: Connection, before: float) -> int:
    """Detections of frames nobody labelled, received before `before`: most frames are never
    selected, and a frame is labelled within days of its selection if at all."""
    labelled = sa.select(TRUTH.c.frame_id)
    stale = PREDICTIONS.delete().where(PREDICTIONS.c.received_at < before, PREDICTIONS.c.frame_id.not_in(labelled))
    return connection.execute(stale).rowcount


def known_models(connection: Connection) -> list[str]:
    return list(connection.execute(sa.select(PREDICTIONS.c.model_version).distinct()).scalars())


@dataclass
class EvaluationSet:
    truth: GroundTruth
    predictions: Predictions
    frames_without_predictions: int
    outside_ontology: int
    degenerate: int


def evaluation_set(connection: Connection, model: str, split: str, frame_ids: set[str] | None = None) -> EvaluationSet:
    """The split's labelled frames the model ran on, as COCO (ids from the ontology: a class keeps
    its id across versions; detections name classes, matched to the ontology's names, old ones
    included). `frame_ids` narrows it (a comparison: the frames both models ran on)."""
    truth_rows = [
        dict(r)
        for r in connection.execute(
            sa.select(TRUTH).where(TRUTH.c.split == split).order_by(TRUTH.c.frame_id)
        ).mappings()
    ]
    # Only the split's frames: embed reports every frame, curate selects many never labelled.
    in_split = sa.select(TRUTH.c.frame_id).where(TRUTH.c.split == split)
    chosen = {
        r.frame_id: r for r in connection.execute(sa.select(SELECTIONS).where(SELECTIONS.c.frame_id.in_(in_split)))
    }
    predicted = {
        r.frame_id: r
        for r in connection.execute(
            sa.select(PREDICTIONS).where(PREDICTIONS.c.model_version == model, PREDICTIONS.c.frame_id.in_(in_split))
        )
    }
    names_by_id: dict[int, Counter[str]] = {}
    ids_by_name: dict[str, int] = {}
    for row in truth_rows:
        for a in row["annotations"]:
            names_by_id.setdefault(a["class_id"], Counter())[a["class"]] += 1
            ids_by_name[a["class"]] = a["class_id"]
    images, annotations, detections = [], [], []
    without = outside = degenerate = 0
    for row in truth_rows:
        found = predicted.get(row["frame_id"])
        if found is None:
            without += 1
            continue
        if frame_ids is not None and row["frame_id"] not in frame_ids:
            continue
        image_id = len(images) + 1
        width, height = row["width"], row["height"]
        images.append(
            {
                "id": image_id,
                "file_name": row["frame_id"],
                "width": width,
                "height": height,
                "camera_id": row["camera_id"],
                "captured_at": row["captured_at"],
                **{f"quality_{name}": value for name, value in (found.metrics or {}).items()},
                **_selection_fields(chosen.get(row["frame_id"])),
            }
        )
        for a in row["annotations"]:
            box = _pixels(a["box"], width, height)
            if box is None:
                degenerate += 1
                continue
            annotations.append(
                {"id": len(annotations) + 1, "image_id": image_id, "category_id": a["class_id"], "bbox": box,
                 "area": box[2] * box[3], "iscrowd": 0}
            )  # fmt: skip
        for d in found.detections:
            category = ids_by_name.get(d["class"])
            box = _pixels(d["box"], width, height)
            if category is None:
                outside += 1
            elif box is None:
                degenerate += 1
            else:
                detections.append({"image_id": image_id, "category_id": category, "bbox": box, "score": d["score"]})
    categories = [
        {"id": class_id, "name": names.most_common(1)[0][0]} for class_id, names in sorted(names_by_id.items())
    ]
    source = f"split {split!r}"
    return EvaluationSet(
        truth=GroundTruth(images=images, categories=categories, annotations=annotations, source=source),
        predictions=Predictions(detections=detections, source=f"model {model}"),
        frames_without_predictions=without,
        outside_ontology=outside,
        degenerate=degenerate,
    )


def _selection_fields(selection) -> dict:
    """The image fields slices read of curate's choice: window:ID and priority-part comparisons."""
    if selection is None:
        return {}
    return {"window": selection.selection_batch, **selection.priority}


def frames_of(connection: Connection, model: str, split: str) -> set[str]:
    """The split's labelled frames the model ran on."""
    in_split = sa.select(TRUTH.c.frame_id).where(TRUTH.c.split == split)
    query = sa.select(PREDICTIONS.c.frame_id).where(
        PREDICTIONS.c.model_version == model, PREDICTIONS.c.frame_id.in_(in_split)
    )
    return set(connection.execute(query).scalars())


def _pixels(box: list[float], width: int, height: int) -> list[float] | None:
    x_min, y_min = max(0.0, box[0]) * width, max(0.0, box[1]) * height
    x_max, y_max = min(1.0, box[2]) * width, min(1.0, box[3]) * height
    if x_max - x_min <= 0 or y_max - y_min <= 0:
        return None  # nothing COCO can score: left out, and counted (EvaluationSet.degenerate)
    return [x_min, y_min, x_max - x_min, y_max - y_min]
