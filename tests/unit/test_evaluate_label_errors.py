"""Label-error candidates from cleanlab's scores: a left-out object, a box dragged off its object
and a box given the wrong class are each found, by type, with the model's class suggested; the
boxes labelled right are not."""

from __future__ import annotations

import copy

from framesift.services.evaluate import label_errors
from framesift.services.evaluate.coco_input import ground_truth, predictions
from framesift.services.evaluate.label_errors import LabelErrorThresholds, LabelIssue
from tests.support import coco_sets


def _world_labels_and_model():
    world = coco_sets.ground_truth(60, seed=8, crowd=0.0)
    # A sure model: every object of the world, boxes a pixel off, score 0.99.
    found = [
        {"image_id": a["image_id"], "category_id": a["category_id"], "score": 0.99,
         "bbox": [a["bbox"][0] + 1, a["bbox"][1], a["bbox"][2], a["bbox"][3]]}
        for a in world["annotations"] if min(a["bbox"][2:]) >= 20
    ]  # fmt: skip
    labels = copy.deepcopy(world)
    big = [a for a in labels["annotations"] if min(a["bbox"][2:]) >= 40]
    left_out, dragged, swapped = big[0], big[5], big[10]
    labels["annotations"].remove(left_out)
    x, y, w, h = dragged["bbox"]
    dragged["bbox"] = [x + 0.6 * w, y + 0.6 * h, w, h]
    true_class = swapped["category_id"]
    swapped["category_id"] = next(c["id"] for c in labels["categories"] if c["id"] != true_class)
    truth = ground_truth(labels, source="labels")
    return truth, predictions(found, truth, source="model"), left_out, dragged, swapped, true_class


def test_each_injected_mistake_is_found_as_its_type_and_nothing_else_is():
    truth, found, left_out, dragged, swapped, true_class = _world_labels_and_model()
    scores = label_errors.box_scores(truth, found)
    flagged = label_errors.candidates(scores, LabelErrorThresholds())
    by_type = {issue: [c for c in flagged if c.issue == issue] for issue in LabelIssue}

    overlooked = by_type[LabelIssue.OVERLOOKED]
    assert [c.image_id for c in overlooked] == [left_out["image_id"]]
    assert overlooked[0].category_id == left_out["category_id"]
    assert abs(overlooked[0].box[0] - left_out["bbox"][0]) <= 1.0

    assert [c.annotation_id for c in by_type[LabelIssue.BADLY_LOCATED]] == [dragged["id"]]
    swaps = by_type[LabelIssue.SWAPPED]
    assert [c.annotation_id for c in swaps] == [swapped["id"]]
    assert swaps[0].suggested_category_id == true_class

    scores_sorted = [c.score for c in flagged]
    assert scores_sorted == sorted(scores_sorted)  # most severe first


def test_with_right_labels_nothing_is_flagged():
    world = coco_sets.ground_truth(40, seed=9, crowd=0.0)
    truth = ground_truth(world, source="labels")
    found = predictions(
        [{"image_id": a["image_id"], "category_id": a["category_id"], "bbox": a["bbox"], "score": 0.97}
         for a in world["annotations"]],
        truth, source="model",
    )  # fmt: skip
    assert label_errors.candidates(label_errors.box_scores(truth, found), LabelErrorThresholds()) == []
