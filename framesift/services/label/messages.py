"""The label service's records as protos (gRPC answers them; HTTP sends their canonical JSON)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from framesift.contracts.vocabulary import frame_ref, timestamp
from framesift.v1 import frames_pb2, labels_pb2

from .completed import final_annotations

NO_DETECTOR = "no detector: the embed backend has none, so labelling starts empty"


def box(values: Sequence[float]) -> frames_pb2.Box:
    x_min, y_min, x_max, y_max = values
    return frames_pb2.Box(x_min=x_min, y_min=y_min, x_max=x_max, y_max=y_max)


def annotation(stored: Mapping[str, Any]) -> labels_pb2.Annotation:
    return labels_pb2.Annotation(
        class_name=stored["class"],
        class_id=stored["class_id"],
        box=box(stored["box"]),
        from_prelabel=stored["from_prelabel"],
        attributes=stored["attributes"],
        track_id=stored["track_id"],
    )


def annotation_input(given: labels_pb2.Annotation) -> dict[str, Any]:
    """A gRPC client's annotation in the form submission.py checks (as HTTP bodies give it)."""
    b = given.box
    return {
        "class": given.class_name,
        "box": [b.x_min, b.y_min, b.x_max, b.y_max],
        "attributes": dict(given.attributes),
        "track_id": given.track_id,
    }


def finding(stored: dict) -> labels_pb2.QaFinding:
    """A stored finding (findings stored before the `prelabel` index existed lack it)."""
    return labels_pb2.QaFinding(
        issue=stored["issue"], annotation=stored["index"], detail=stored["detail"], prelabel=stored.get("prelabel")
    )


def task(row: Mapping[str, Any], why: str | None = None) -> labels_pb2.LabelTask:
    done = row["state"] == "done"
    message = labels_pb2.LabelTask(
        task_id=row["task_id"],
        frame=frame_ref(row),
        prelabels=[
            frames_pb2.Detection(class_name=p["class"], score=p["score"], box=box(p["box"])) for p in row["prelabels"]
        ],
        ontology_version=str(row["ontology_version"] or ""),
        created_at=timestamp(row["created_at"]),
        width=row["width"],
        height=row["height"],
        priority=row["priority"],
        selection_batch=row["selection_batch"],
        model=row["model"],
        has_detector=row["has_detector"],
        state=row["state"],
        lease_holder=row["lease_holder"] or "",
        labeller=row["labeller"] or "",
        annotations=[annotation(a) for a in row["annotations"]],
        frame_classes=row["frame_classes"],
        labelling_seconds=row["labelling_seconds"] or 0.0,
        qa_flags=[flag for flag in row["qa_flags"].split(",") if flag],
        review_reason=row["review_reason"] or "",
        reviewer=row["reviewer"] or "",
        verdict=row["verdict"] or "",
        review_annotations=[annotation(a) for a in row["review_annotations"] or ()],
        rejections=row["rejections"],
        skips=row["skips"],
        final_annotations=[annotation(a) for a in final_annotations(dict(row))] if done else [],
        why=why if why is not None else ("" if row["has_detector"] else NO_DETECTOR),
        qa_findings=[finding(f) for f in row.get("qa_findings") or ()],
    )
    if row["lease_holder"]:
        message.lease_expires.CopyFrom(timestamp(row["lease_expires"]))
    return message


def _rate(figure: Mapping[str, Any]) -> labels_pb2.ErrorRate:
    return labels_pb2.ErrorRate(**{k: figure[k] for k in ("reviewed", "errors", "rate", "low", "high")})


def stats(summary: Mapping[str, Any]) -> labels_pb2.LabelStats:
    rates, prelabels = summary["error_rate"], summary["prelabels"]
    message = labels_pb2.LabelStats(
        tasks_by_state=summary["tasks"],
        by_labeller={k: _rate(v) for k, v in rates["by_labeller"].items()},
        by_class={k: _rate(v) for k, v in rates["by_class"].items()},
        by_camera={k: _rate(v) for k, v in rates["by_camera"].items()},
        prelabels_by_model={
            model: labels_pb2.ModelPrelabels(by_class={c: labels_pb2.PrelabelCounts(**n) for c, n in classes.items()})
            for model, classes in prelabels["by_model"].items()
        },
    )
    if rates["overall"]:
        message.overall.CopyFrom(_rate(rates["overall"]))
    for name in ("median_seconds_with_prelabels", "median_seconds_without_prelabels"):
        if prelabels[name] is not None:
            setattr(message, name, prelabels[name])
    return message


def dataset(manifest: Mapping[str, Any], manifest_sha256: str, location: str) -> labels_pb2.DatasetVersion:
    return labels_pb2.DatasetVersion(
        dataset_id=manifest["dataset_id"],
        manifest_sha256=manifest_sha256,
        format=manifest["format"],
        query=manifest["query"],
        ontology_version=manifest["ontology_version"],
        frames_by_split=manifest["frames"],
        annotations=manifest["annotations"],
        location=location,
    )
