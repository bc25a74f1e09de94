"""What framesift writes to Label Studio and reads back, without a server: the label config from
an ontology version, tasks with their pre-labels, annotations mapped through the ontology's
versions, the webhook's ids, and the signatures."""

from __future__ import annotations

from xml.etree import ElementTree as ET

import pytest

from framesift.services.label.ontology import next_version, parse
from framesift.services.label.studio import signing
from framesift.services.label.studio.config import label_config
from framesift.services.label.studio.convert import resolve_label, returned, studio_task
from framesift.services.label.studio.http import MalformedWebhookError, mentioned

CAR_ATTRIBUTES = ["occluded", {"name": "state", "values": ["parked", "moving"]}]
V1 = next_version(
    None,
    parse(
        {
            "classes": [
                {"name": "car", "colour": "#e6194b", "attributes": CAR_ATTRIBUTES},
                {"name": "person", "attributes": ["occluded"]},
                {"name": "van"},
                {"name": "night", "kind": "frame"},
            ]
        }
    ),
)  # fmt: skip
V2 = next_version(
    V1,
    parse(
        {
            "classes": [
                {"id": 1, "name": "car", "colour": "#e6194b", "attributes": CAR_ATTRIBUTES},
                {"id": 2, "name": "pedestrian", "attributes": ["occluded"]},
                {"id": 3, "name": "van", "retired": True},
                {"id": 4, "name": "night", "kind": "frame"},
            ]
        }
    ),
)  # fmt: skip
VERSIONS = [V2, V1]  # newest first


def box(label: str, x: float, y: float, w: float, h: float, region_id: str = "r", **value) -> dict:
    position = {"x": x, "y": y, "width": w, "height": h, "rotation": 0} | value
    return {
        "id": region_id, "from_name": "box", "to_name": "image", "type": "rectanglelabels",
        "value": position | {"rectanglelabels": [label]},
    }  # fmt: skip


def choice(control: str, chosen: list[str], region_id: str = "r") -> dict:
    return {"id": region_id, "from_name": control, "to_name": "image", "type": "choices", "value": {"choices": chosen}}


def test_the_label_config_numbers_labels_by_class_id_and_shows_each_classes_attributes() -> None:
    view = ET.fromstring(label_config(V2))
    labels = {label.get("value"): label.get("category") for label in view.iter("Label")}
    assert labels == {"car": "1", "pedestrian": "2"}  # the retired van is not offered
    assert view.find("RectangleLabels").get("canRotate") == "false"
    controls = {c.get("name"): c for c in view.iter("Choices")}
    assert controls["attr-1-state"].get("whenLabelValue") == "car"
    assert [c.get("value") for c in controls["attr-1-state"].iter("Choice")] == ["parked", "moving"]
    assert [c.get("value") for c in controls["attr-2-occluded"].iter("Choice")] == ["occluded"]
    assert [c.get("value") for c in controls["frame"].iter("Choice")] == ["night"]
    assert view.find("TextArea").get("perRegion") == "true"


def test_a_task_carries_its_prelabels_in_percent_and_leaves_out_classes_the_ontology_lacks() -> None:
    task = {
        "task_id": "t-1", "frame_id": "f-1", "camera_id": "cam", "priority": 0.25, "width": 640, "height": 360,
        "model": "yolo/3",
        "prelabels": [
            {"class": "car", "score": 0.8, "box": [0.1, 0.2, 0.5, 0.6]},
            {"class": "tram", "score": 0.9, "box": [0.0, 0.0, 0.1, 0.1]},
            {"class": "pedestrian", "score": 0.4, "box": [0.6, 0.1, 0.7, 0.5]},
        ],
    }  # fmt: skip
    made = studio_task(task, "https://fs/img", V2)
    assert made["data"]["framesift_task"] == "t-1"
    assert made["data"]["image"] == "https://fs/img"
    (prediction,) = made["predictions"]
    assert prediction["model_version"] == "yolo/3"
    assert prediction["score"] == pytest.approx(0.6)
    first = prediction["result"][0]
    assert first["value"]["rectanglelabels"] == ["car"]
    assert [first["value"][k] for k in ("x", "y", "width", "height")] == pytest.approx([10, 20, 40, 40])
    assert (first["original_width"], first["original_height"], first["score"]) == (640, 360, 0.8)
    assert [r["value"]["rectanglelabels"] for r in prediction["result"]] == [["car"], ["pedestrian"]]
    assert "predictions" not in studio_task({**task, "prelabels": []}, "u", V2)


def test_an_annotation_maps_back_with_its_attributes_track_and_frame_classes() -> None:
    result = [
        box("car", 10, 20, 30, 40),
        choice("attr-1-state", ["moving"]),
        {"id": "r", "from_name": "track", "to_name": "image", "type": "textarea", "value": {"text": [" car-9 "]}},
        box("pedestrian", 50, 50, 10, 30, region_id="p"),
        choice("attr-2-occluded", ["occluded"], region_id="p"),
        choice("attr-1-state", ["parked"], region_id="p"),  # chosen before the label changed: not its own
        {"id": "fc", "from_name": "frame", "to_name": "image", "type": "choices", "value": {"choices": ["night"]}},
    ]
    mapped = returned(result, VERSIONS)
    assert mapped.problems == []
    assert mapped.frame_classes == ["night"]
    car, person = mapped.annotations
    assert car["box"] == pytest.approx([0.1, 0.2, 0.4, 0.6])
    assert car["attributes"] == {"occluded": "false", "state": "moving"}  # the flag was left unchecked
    assert car["track_id"] == "car-9"
    assert (person["class"], person["attributes"]) == ("pedestrian", {"occluded": "true"})


def test_old_names_resolve_through_the_ids_and_the_unmappable_is_reported() -> None:
    assert resolve_label("person", VERSIONS).id == 2  # renamed: the id stays
    assert resolve_label("van", VERSIONS) is None  # retired
    assert resolve_label("night", VERSIONS) is None  # a frame class is no box
    mapped = returned(
        [
            box("van", 0, 0, 10, 10, region_id="a"),
            box("car", 0, 0, 10, 10, region_id="b", rotation=30),
            {**box("car", 0, 0, 10, 10, region_id="c"), "value": {"rectanglelabels": ["car", "pedestrian"]}},
            box("person", 0, 0, 10, 10, region_id="d"),
        ],
        VERSIONS,
    )
    assert [a["class"] for a in mapped.annotations] == ["pedestrian"]
    assert mapped.problems == [
        "label 'van' is not a class of ontology v2",
        "region 'b' is rotated: framesift's boxes are axis-aligned",
        "region 'c' has 2 labels (one is expected)",
    ]


def test_a_webhook_names_tasks_or_annotations() -> None:
    created = {"action": "ANNOTATION_CREATED", "annotation": {"id": 5, "task": 9}, "task": {"id": 9}}
    assert mentioned(created) == ([9, 9], [])
    deleted = {"action": "ANNOTATIONS_DELETED", "annotations": [{"id": 5}, {"id": 6}]}
    assert mentioned(deleted) == ([], [5, 6])
    for bad in ([], {"task": {"id": 1}}, {"action": "X", "task": {"id": "nine"}}, {"action": "X", "annotations": [3]}):
        with pytest.raises(MalformedWebhookError):
            mentioned(bad)


def test_image_urls_are_signed_per_task_and_expire() -> None:
    secret = "s" * 32
    signature = signing.image_signature(secret, "t-1", 2_000)
    assert signing.image_ok(secret, "t-1", 2_000, signature, now=1_999.0)
    assert not signing.image_ok(secret, "t-1", 2_000, signature, now=2_000.0)  # expired
    assert not signing.image_ok(secret, "t-2", 2_000, signature, now=1.0)  # another task's
    assert not signing.image_ok(secret, "t-1", 3_000, signature, now=1.0)  # a longer expiry forged
    assert not signing.image_ok("t" * 32, "t-1", 2_000, signature, now=1.0)
    assert signing.webhook_ok(secret, signing.webhook_token(secret))
    assert not signing.webhook_ok(secret, None)
    assert not signing.webhook_ok(secret, signing.webhook_token("t" * 32))
