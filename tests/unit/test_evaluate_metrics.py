"""framesift's COCO numbers: faster-coco-eval's, checked against pycocotools on the same data;
the bootstrap's resampling checked against COCO run on data where images really repeat."""

from __future__ import annotations

import contextlib
import copy
import io
import re

import numpy as np
import pytest
from pycocotools.coco import COCO as ReferenceCOCO
from pycocotools.cocoeval import COCOeval as ReferenceEval

from framesift.services.evaluate import coco_input, detection_metrics, report, resampling, slices
from tests.support import coco_sets

# Both libraries compute in double precision but sum in different orders.
CLOSE = 1e-9


def _inputs(images: int = 120, *, seed: int = 5, skill: float = 0.7):
    truth_doc = coco_sets.ground_truth(images, seed=seed)
    found_doc = coco_sets.detections(truth_doc, seed=seed + 1, skill=skill)
    truth = coco_input.ground_truth(copy.deepcopy(truth_doc), source="gt.json")
    return truth_doc, found_doc, truth, coco_input.predictions(copy.deepcopy(found_doc), truth, source="pred.json")


def _reference(truth_doc, found_doc) -> list[float]:
    with contextlib.redirect_stdout(io.StringIO()):
        ground = ReferenceCOCO()
        ground.dataset = copy.deepcopy(truth_doc)
        ground.createIndex()
        run = ReferenceEval(ground, ground.loadRes(copy.deepcopy(found_doc)), "bbox")
        run.evaluate()
        run.accumulate()
        run.summarize()
    return list(run.stats)


def test_the_twelve_coco_numbers_equal_pycocotools_on_the_same_files():
    truth_doc, found_doc, truth, found = _inputs()
    ours = detection_metrics.evaluate(truth, found).metrics
    reference = _reference(truth_doc, found_doc)
    names = list(detection_metrics.SUMMARY_NAMES.values())
    assert len(reference) == len(names)
    for name, expected in zip(names, reference, strict=True):
        assert ours[name] == pytest.approx(expected, abs=CLOSE), name
    assert 0.1 < ours["map"] < 0.9  # a model that is neither perfect nor useless: the check has teeth


def test_per_class_ap_averages_to_the_map():
    _, _, truth, found = _inputs()
    evaluation = detection_metrics.evaluate(truth, found)
    aps = [item.ap for item in evaluation.classes if not np.isnan(item.ap)]
    assert np.mean(aps) == pytest.approx(evaluation.metrics["map"], abs=CLOSE)
    assert {item.name for item in evaluation.classes} == {"car", "person", "bicycle", "bus"}


def test_resampling_with_every_weight_one_gives_cocos_own_ap():
    _, _, truth, found = _inputs()
    evaluation = detection_metrics.evaluate(truth, found, with_matches=True)
    table = resampling.MatchTable.from_evaluation(evaluation)
    ap = resampling.average_precision(table, np.ones((1, table.images)))
    both = resampling.summary(ap)
    assert both["map"][0] == pytest.approx(evaluation.metrics["map"], abs=CLOSE)
    assert both["ap50"][0] == pytest.approx(evaluation.metrics["ap50"], abs=CLOSE)
    for k, item in enumerate(evaluation.classes):
        assert ap[0, :, k].mean() == pytest.approx(item.ap, abs=CLOSE)


def test_an_image_drawn_twice_counts_as_cocos_evaluation_of_that_image_repeated():
    truth_doc, found_doc, truth, found = _inputs(images=60)
    table = resampling.MatchTable.from_evaluation(detection_metrics.evaluate(truth, found, with_matches=True))
    weights = np.random.default_rng(3).integers(0, 4, size=table.images)  # 0: left out, 3: three copies
    ours = resampling.summary(resampling.average_precision(table, weights[None, :]))

    # The same resample written out: each drawn image copied under new ids.
    repeated = {"images": [], "categories": truth_doc["categories"], "annotations": []}
    repeated_found = []
    for at, image_id in enumerate(table.image_ids):
        for copy_number in range(weights[at]):
            new_id = int(image_id) * 10 + copy_number
            image = next(item for item in truth_doc["images"] if item["id"] == image_id)
            repeated["images"].append(dict(image, id=new_id))
            for annotation in truth_doc["annotations"]:
                if annotation["image_id"] == image_id:
                    repeated["annotations"].append(
                        dict(annotation, id=len(repeated["annotations"]) + 1, image_id=new_id)
                    )
            repeated_found += [dict(d, image_id=new_id) for d in found_doc if d["image_id"] == image_id]
    reference = _reference(repeated, repeated_found)
    assert ours["map"][0] == pytest.approx(reference[0], abs=CLOSE)
    assert ours["ap50"][0] == pytest.approx(reference[1], abs=CLOSE)


def test_intervals_hold_the_estimate_are_reproducible_and_narrow_with_more_images():
    def width_and_interval(images: int):
        truth_doc = coco_sets.ground_truth(images, seed=9)
        truth = coco_input.ground_truth(truth_doc, source="gt")
        found = coco_input.predictions(coco_sets.detections(truth_doc, seed=10), truth, source="pred")
        result, _ = report.evaluate(truth, found, dimensions=["camera"], resamples=300, seed=4)
        return result

    small, large = width_and_interval(80), width_and_interval(640)
    for item in large.slices:
        low, high = item.intervals["map"]
        assert low <= item.metrics["map"] <= high
    again = width_and_interval(80)
    assert [s.intervals for s in again.slices] == [s.intervals for s in small.slices]

    def mean_width(result):
        return np.mean([high - low for low, high in (s.intervals["map"] for s in result.slices)])

    # Eight times the images: the interval about sqrt(8) ~ 2.8 times narrower; 1.8 leaves room.
    assert mean_width(small) > 1.8 * mean_width(large)


def test_slices_are_listed_worst_first_with_their_support():
    truth_doc, _, truth, found = _inputs(images=200)
    result, _ = report.evaluate(truth, found, dimensions=["camera", "class", "time"], resamples=100)
    maps = [item.metrics["map"] for item in result.slices]
    assert maps == sorted(maps)
    cameras = [item for item in result.slices if item.dimension == "camera"]
    assert sorted(item.value for item in cameras) == ["cam-0", "cam-1", "cam-2", "cam-3"]
    assert sum(item.images for item in cameras) == 200
    classes = {item.value: item for item in result.slices if item.dimension == "class"}
    counted = sum(1 for a in truth_doc["annotations"] if a["category_id"] == 1 and not a["iscrowd"])
    assert classes["car"].objects == counted
    assert {item.value for item in result.slices if item.dimension == "time"} <= {
        "night", "morning", "afternoon", "evening",
    }  # fmt: skip
    assert result.slices[0].name == f"{result.slices[0].dimension}:{result.slices[0].value}"


def test_a_better_model_is_called_better_and_a_model_against_itself_is_not():
    truth_doc, _, truth, weak = _inputs(images=150, skill=0.55)
    strong = coco_input.predictions(coco_sets.detections(truth_doc, seed=77, skill=0.95), truth, source="strong")
    result, _ = report.evaluate(truth, strong, baseline=weak, dimensions=["camera"], resamples=300)
    overall = result.comparison[0]
    assert overall.slice == "all"
    assert overall.difference["map"] > 0
    assert overall.intervals["map"][0] > 0
    assert report.verdict(overall) == "better"

    same, _ = report.evaluate(truth, weak, baseline=weak, resamples=100)
    assert same.comparison[0].difference["map"] == 0
    assert same.comparison[0].intervals["map"] == (0.0, 0.0)
    assert report.verdict(same.comparison[0]) == "within the noise"


def test_each_object_gets_its_outcome_at_iou_half():
    truth_doc = {
        "images": [{"id": 1, "width": 100, "height": 100}, {"id": 2, "width": 100, "height": 100}],
        "categories": [{"id": 1, "name": "car"}],
        "annotations": [
            {"id": 10, "image_id": 1, "category_id": 1, "bbox": [10, 10, 20, 20]},
            {"id": 11, "image_id": 2, "category_id": 1, "bbox": [50, 50, 30, 30]},  # nobody finds it
        ],
    }
    found_doc = [
        {"image_id": 1, "category_id": 1, "bbox": [11, 10, 20, 20], "score": 0.9},  # IoU 19*20/(2*400-380)
        {"image_id": 1, "category_id": 1, "bbox": [70, 70, 10, 10], "score": 0.8},  # a false alarm
    ]
    truth = coco_input.ground_truth(truth_doc, source="gt")
    _, evaluation = report.evaluate(truth, coco_input.predictions(found_doc, truth, source="pred"), objects=True)
    rows = {(row["kind"], row["id"]): row for row in report.object_outcomes(evaluation)}
    assert rows["detection", 1]["outcome"] == "tp"
    assert rows["detection", 1]["truth_id"] == 10
    assert rows["detection", 1]["iou"] == pytest.approx(380 / 420, abs=1e-4)
    assert rows["detection", 2]["outcome"] == "fp"
    assert rows["truth", 10] == {"kind": "truth", "id": 10, "image_id": 1, "category_id": 1, "outcome": "tp",
                                 "detection_id": 1}  # fmt: skip
    assert rows["truth", 11]["outcome"] == "fn"


def test_no_detections_at_all_is_a_zero_not_a_crash():
    _, _, truth, _ = _inputs(images=20)
    result, _ = report.evaluate(truth, coco_input.Predictions(detections=[], source="none"), dimensions=["class"])
    assert result.metrics["map"] == 0
    assert all(item.metrics["map"] == 0 for item in result.slices)


@pytest.mark.parametrize(
    ("moment", "part"),
    [
        (1_764_547_200 + 3 * 3600, "night"),
        ("2026-12-01T07:30:00Z", "morning"),
        ("2026-12-01T12:00:00+00:00", "afternoon"),
        ("2026-12-01T20:59:59", "evening"),
        ("2026-12-01T23:10:00Z", "night"),
        ("yesterday", None),
    ],
)
def test_part_of_day(moment, part):
    assert slices.part_of_day(moment) == part


def test_a_query_slice_is_the_same_slice_as_its_dimension_value():
    _, _, truth, found = _inputs(images=160)
    result, _ = report.evaluate(
        truth, found, dimensions=["camera", "class", "camera:cam-2", "class:bus", "camera:cam-2 class:bus"],
        resamples=100,
    )  # fmt: skip
    named = {item.name: item for item in result.slices}
    grouped, queried = (x for x in result.slices if x.name == "camera:cam-2")
    assert queried.images == grouped.images
    for name in ("map", "ap50"):
        assert queried.metrics[name] == pytest.approx(grouped.metrics[name], abs=CLOSE)
        assert queried.intervals[name] == pytest.approx(grouped.intervals[name], abs=CLOSE)
    one_class = [x for x in result.slices if x.name == "class:bus"]
    assert one_class[0].metrics["map"] == pytest.approx(one_class[1].metrics["map"], abs=CLOSE)
    both = named["camera:cam-2 class:bus"]
    assert both.images == grouped.images
    assert both.objects < grouped.objects


def test_query_slices_on_time_and_image_fields_and_their_errors():
    truth_doc = coco_sets.ground_truth(120, seed=12)
    for image in truth_doc["images"]:
        image["brightness"] = (image["id"] % 10) / 10  # a tenth of the frames at each level
    truth = coco_input.ground_truth(truth_doc, source="gt")
    found = coco_input.predictions(coco_sets.detections(truth_doc, seed=13), truth, source="pred")
    dark = "brightness<0.2"
    late = f"from:{coco_sets.START + 12 * 3600}"
    result, _ = report.evaluate(truth, found, dimensions=[dark, late], resamples=50)
    named = {item.name: item for item in result.slices}
    assert named[dark].images == sum(1 for image in truth_doc["images"] if image["brightness"] < 0.2) == 24
    assert named[late].images == sum(
        1 for image in truth_doc["images"] if image["captured_at"] >= coco_sets.START + 43200
    )
    for bad, message in [
        ("status:checked", "a slice selects by camera:, class:, id:, window:, from:, to:"),
        ("brightnes<0.2", "did you mean brightness?"),
        ("class:tram", "no class 'tram'"),
        ("camera:cam-9", "no image matches it"),
    ]:
        with pytest.raises(coco_input.CocoInputError, match=re.escape(message)):
            report.evaluate(truth, found, dimensions=[bad], resamples=10)
