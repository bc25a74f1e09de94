"""Each label QA check fires on the error it names, and not on labels that agree with confident
pre-labels."""

from __future__ import annotations

import pytest

from framesift.services.label import qa
from framesift.services.label.ontology import next_version, parse
from framesift.services.label.settings import QaSettings

ONTOLOGY = next_version(None, parse({"classes": [{"name": "car", "min_box_px": 12}, {"name": "person"}]}))
PRELABELS = [
    {"class": "car", "score": 0.92, "box": [0.10, 0.10, 0.30, 0.30]},
    {"class": "person", "score": 0.85, "box": [0.60, 0.20, 0.70, 0.60]},
    {"class": "car", "score": 0.30, "box": [0.80, 0.80, 0.90, 0.90]},  # not confident
]
AGREEING = [
    {"class": "car", "box": [0.11, 0.10, 0.31, 0.30], "track_id": "t1"},
    {"class": "person", "box": [0.60, 0.21, 0.70, 0.60], "track_id": ""},
]


def issues(annotations, prelabels=PRELABELS, **extra) -> set[str]:
    labelled = qa.Labelled(annotations, prelabels, width=640, height=360, ontology=ONTOLOGY, **extra)
    return {f.issue.value for f in qa.check(labelled, QaSettings())}


def replaced(index: int, **changes):
    out = [dict(a) for a in AGREEING]
    out[index] |= changes
    return out


def test_labels_that_agree_with_the_confident_prelabels_raise_nothing() -> None:
    assert issues(AGREEING) == set()
    assert issues([]) == {"missing_object"}  # two confident objects, no labels


def test_a_missing_object_names_the_prelabel_it_is_about() -> None:
    labelled = qa.Labelled(AGREEING[:1], PRELABELS, width=640, height=360, ontology=ONTOLOGY)
    (finding,) = qa.check(labelled, QaSettings())
    assert (finding.issue, finding.index, finding.prelabel) == (qa.Issue.MISSING_OBJECT, None, 1)


@pytest.mark.parametrize(
    ("annotations", "expected"),
    [
        (replaced(0, box=[0.10, 0.10, 0.1005, 0.30]), {"degenerate_box"}),  # not also missing, not also small
        (replaced(0, box=[-0.01, 0.10, 0.30, 0.30]), {"out_of_frame"}),
        ([*AGREEING, {"class": "car", "box": [0.105, 0.10, 0.305, 0.30]}], {"duplicate_box"}),
        (replaced(1, **{"class": "car"}), {"class_changed"}),
        (AGREEING[:1], {"missing_object"}),
        (replaced(0, box=[0.12, 0.12, 0.24, 0.24]), {"box_too_tight"}),
        (replaced(0, box=[0.05, 0.05, 0.40, 0.40]), {"box_too_wide"}),
        (replaced(0, box=[0.10, 0.10, 0.30, 0.13]), {"ontology_violation", "box_too_tight"}),
    ],
)
def test_an_injected_error_is_flagged_as_its_type(annotations, expected) -> None:
    assert issues(annotations) == expected


def test_a_box_in_the_minority_of_its_track_is_flagged_and_a_tie_is_not() -> None:
    assert issues(AGREEING, track_classes={"t1": {"car": 2}}) == set()
    assert issues(AGREEING, track_classes={"t1": {"person": 2}}) == {"track_class_flip"}
    # One wrong frame earlier does not flag the right frames after it.
    assert issues(AGREEING, track_classes={"t1": {"person": 1}}) == set()
    assert issues(AGREEING, track_classes={"t1": {"person": 1, "car": 3}}) == set()


def test_without_prelabels_only_the_label_own_checks_apply() -> None:
    assert issues(AGREEING, prelabels=[]) == set()
    assert issues([*AGREEING, AGREEING[0]], prelabels=[]) == {"duplicate_box"}


def test_iou() -> None:
    assert qa.iou((0, 0, 1, 1), (0, 0, 1, 1)) == 1.0
    assert qa.iou((0, 0, 1, 1), (1, 1, 2, 2)) == 0.0
    assert qa.iou((0, 0, 2, 1), (1, 0, 3, 1)) == pytest.approx(1 / 3)
