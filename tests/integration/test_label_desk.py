"""The labelling desk on SQLite and PostgreSQL: tasks once per frame, the queue and its leases,
submissions checked against the ontology, review verdicts, and what the reviews estimate.

The desk's clock is a parameter: leases expire by moving it, never by waiting."""

from __future__ import annotations

import contextlib
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import sqlalchemy as sa

from framesift.app.registry import create_schema
from framesift.contracts.vocabulary import timestamp
from framesift.services.label import messages, stats
from framesift.services.label.desk import (
    LabelDesk,
    LeaseError,
    NoOntologyError,
    QueueFilter,
    TaskNotFoundError,
    TaskState,
    Verdict,
    create_task,
    task_id_for,
)
from framesift.services.label.ontology import parse
from framesift.services.label.ontology_store import apply
from framesift.services.label.settings import LabelSettings, ReviewSettings
from framesift.services.label.submission import InvalidSubmissionError
from framesift.sql.engine import make_engine
from framesift.v1 import frames_pb2
from tests.support.curation import fresh_postgres

ONTOLOGY = {
    "classes": [
        {"name": "car", "attributes": [{"name": "state", "values": ["parked", "moving"]}, "occluded"],
         "required_attributes": ["state"]},
        {"name": "person"},
        {"name": "night", "kind": "frame"},
    ]
}  # fmt: skip
CAR = {"class": "car", "box": [0.1, 0.1, 0.3, 0.3], "attributes": {"state": "parked"}}


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request, tmp_path):
    with contextlib.ExitStack() as stack:
        if request.param == "sqlite":
            url = f"sqlite:///{tmp_path / 'label.db'}"
        else:
            url = stack.enter_context(fresh_postgres(request.getfixturevalue("postgres_url")))
        engine = make_engine(url)
        create_schema(engine, ["label"])
        yield engine
        engine.dispose()


def selected(frame_id: str, *, camera: str = "cam-1", priority: float = 0.5, detections=()) -> frames_pb2.FrameSelected:
    return frames_pb2.FrameSelected(
        frame_id=frame_id,
        camera_id=camera,
        frame=frames_pb2.FrameRef(
            frame_id=frame_id, camera_id=camera, captured_at=timestamp(1_795_000_000.0),
            object_key=f"frames/{camera}/aa/{'a' * 64}.jpg", sha256="a" * 64,
        ),
        priority=frames_pb2.Priority(total=priority),
        selection_batch="w1",
        detections=list(detections),
        model_name="tiny-test" if detections else "",
        model_version="1" if detections else "",
        has_detector=bool(detections),
        width=640,
        height=360,
    )  # fmt: skip


def detection(name: str, score: float, box) -> frames_pb2.Detection:
    return frames_pb2.Detection(
        class_name=name, score=score, box=frames_pb2.Box(x_min=box[0], y_min=box[1], x_max=box[2], y_max=box[3])
    )


def desk_with(engine, clock: Clock, frames, **review) -> LabelDesk:
    with engine.begin() as connection:
        apply(connection, parse(ONTOLOGY), author="test", now=clock())
        for frame in frames:
            create_task(connection, frame, clock())
    settings = LabelSettings(
        lease_s=60, review=ReviewSettings(**({"rate": 0.0, "new_labeller_tasks": 0, "min_per_stratum": 0} | review))
    )
    return LabelDesk(engine, settings, clock)


def test_one_task_per_frame_whatever_is_redelivered(engine) -> None:
    event = selected("f-1", detections=[detection("car", 0.9, (0.1, 0.1, 0.3, 0.3))])
    with engine.begin() as connection:
        assert create_task(connection, event, 1.0)
        assert not create_task(connection, event, 2.0)  # redelivery or replay: nothing new
    desk = LabelDesk(engine, LabelSettings())
    task = desk.task_for_frame("f-1")
    assert task["task_id"] == task_id_for("f-1")
    assert task["prelabels"] == [{"class": "car", "score": 0.9, "box": [0.1, 0.1, 0.3, 0.3]}]
    assert (task["model"], task["has_detector"], task["created_at"]) == ("tiny-test/1", True, 1.0)
    with engine.connect() as connection:
        assert connection.execute(sa.text("SELECT count(*) FROM label_tasks")).scalar_one() == 1


def test_the_queue_goes_by_priority_with_filters_and_a_lease_is_held_by_one(engine) -> None:
    clock = Clock()
    frames = [
        selected("low", priority=0.1),
        selected("high", priority=0.9),
        selected("other-cam", camera="cam-2", priority=0.95),
        selected("cars", priority=0.2, detections=[detection("car", 0.9, (0.1, 0.1, 0.3, 0.3))]),
    ]
    desk = desk_with(engine, clock, frames)
    assert desk.next_task("ann", QueueFilter(camera="cam-1"))["frame_id"] == "high"
    assert desk.next_task("ann")["frame_id"] == "high"  # the lease held is answered again
    assert desk.next_task("bob")["frame_id"] == "other-cam"
    assert desk.next_task("cyd", QueueFilter(label_class="car"))["frame_id"] == "cars"
    assert desk.next_task("dan", QueueFilter(label_class="person")) is None
    with pytest.raises(LeaseError, match="leased to someone else"):
        desk.submit("bob", task_id_for("high"), [])
    clock.now += 61  # ann's lease expires: the task returns to the queue
    assert desk.next_task("dan", QueueFilter(camera="cam-1"))["frame_id"] == "high"
    with pytest.raises(LeaseError):
        desk.submit("ann", task_id_for("high"), [CAR])
    with pytest.raises(TaskNotFoundError):
        desk.submit("ann", "no-such-task", [])


def test_a_skipped_task_goes_back_to_the_queue_but_not_to_who_skipped_it(engine) -> None:
    clock = Clock()
    desk = desk_with(engine, clock, [selected("a", priority=0.9), selected("b", priority=0.1)])
    assert desk.next_task("ann")["frame_id"] == "a"
    desk.skip("ann", task_id_for("a"), "too dark to tell")
    assert desk.next_task("ann")["frame_id"] == "b"
    assert desk.next_task("bob")["frame_id"] == "a"
    assert desk.task(task_id_for("a"))["skips"] == 1
    with engine.connect() as connection:
        skipped = connection.execute(sa.text("SELECT labeller, reason FROM label_task_skips")).all()
    assert [tuple(r) for r in skipped] == [("ann", "too dark to tell")]


def test_concurrent_labellers_never_share_a_task(engine) -> None:
    clock = Clock()
    desk = desk_with(engine, clock, [selected(f"f-{i}", priority=i / 40) for i in range(40)])
    with ThreadPoolExecutor(8) as pool:
        taken = list(pool.map(lambda i: desk.next_task(f"labeller-{i}"), range(32)))
    ids = [t["task_id"] for t in taken if t]
    assert len(ids) == 32
    assert len(set(ids)) == 32  # nobody got a task another holds
    holders = {t["task_id"]: t["lease_holder"] for t in taken}
    assert len(set(holders.values())) == 32


@pytest.mark.parametrize(
    ("annotations", "frame_classes", "field"),
    [
        ([{**CAR, "class": "truck"}], [], "annotations[0].class"),
        ([{**CAR, "box": [0.1, 0.1, 1.4, 0.3]}], [], "annotations[0].box"),
        ([{**CAR, "box": [0.3, 0.1, 0.1, 0.3]}], [], "annotations[0].box"),
        ([CAR, {**CAR, "attributes": {}}], [], "annotations[1].attributes.state"),
        ([{**CAR, "attributes": {"state": "flying"}}], [], "annotations[0].attributes.state"),
        ([{**CAR, "attributes": {"state": "parked", "colour": "red"}}], [], "annotations[0].attributes.colour"),
        ([CAR], ["rainy"], "frame_classes[0]"),
        ([{**CAR, "track_id": "a/b"}], [], "annotations[0].track_id"),
    ],
)
def test_a_bad_submission_names_the_field_and_stores_nothing(engine, annotations, frame_classes, field) -> None:
    clock = Clock()
    desk = desk_with(engine, clock, [selected("f")])
    task = desk.next_task("ann")
    with pytest.raises(InvalidSubmissionError) as raised:
        desk.submit("ann", task["task_id"], annotations, frame_classes)
    assert raised.value.field == field
    after = desk.task(task["task_id"])
    assert (after["state"], after["annotations"], after["lease_holder"]) == ("labelling", [], "ann")


def test_nothing_is_labelled_before_an_ontology_exists(engine) -> None:
    with engine.begin() as connection:
        create_task(connection, selected("f"), 1.0)
    desk = LabelDesk(engine, LabelSettings())
    task = desk.next_task("ann")
    with pytest.raises(NoOntologyError, match="framesift label ontology set"):
        desk.submit("ann", task["task_id"], [CAR])


def test_accepting_prelabels_in_one_call_keeps_them_and_finishes_an_unsampled_task(engine) -> None:
    clock = Clock()
    pre = [detection("car", 0.9, (0.1, 0.1, 0.3, 0.3)), detection("person", 0.8, (0.5, 0.2, 0.6, 0.6))]
    frames = [selected("f", detections=pre), selected("p", priority=0.1, detections=pre[1:])]
    desk = desk_with(engine, clock, frames)
    task = desk.next_task("ann")
    clock.now += 7
    with pytest.raises(InvalidSubmissionError, match="prelabels"):  # car needs its state attribute
        desk.submit("ann", task["task_id"], None, accept_prelabels=True)
    outcome = desk.submit(
        "ann",
        task["task_id"],
        [{**CAR, "box": [0.1, 0.1, 0.3, 0.3]}, {"class": "person", "box": [0.5, 0.2, 0.6, 0.6]}],
        ["night"],
    )
    done = outcome.task
    assert done["state"] == TaskState.DONE
    assert [a["from_prelabel"] for a in done["annotations"]] == [True, True]
    assert (done["labelling_seconds"], done["frame_classes"], done["ontology_version"]) == (7, ["night"], 1)
    assert "not sampled" in outcome.why
    persons = desk.next_task("ann")
    accepted = desk.submit("ann", persons["task_id"], None, accept_prelabels=True).task
    assert [(a["class"], a["from_prelabel"]) for a in accepted["annotations"]] == [("person", True)]
    assert accepted["state"] == TaskState.DONE


def test_review_accept_correct_reject_and_the_error_rate(engine) -> None:
    clock = Clock()
    desk = desk_with(engine, clock, [selected(f"f-{i}", priority=1 - i / 10) for i in range(6)], rate=1.0)
    for _ in range(6):
        task = desk.next_task("ann")
        outcome = desk.submit("ann", task["task_id"], [CAR])
        assert outcome.task["state"] == TaskState.REVIEW
        assert outcome.task["review_reason"] == "sampled"
    assert desk.next_review("ann") is None  # nobody reviews their own work
    verdicts = [
        Verdict.ACCEPTED,
        Verdict.ACCEPTED,
        Verdict.ACCEPTED,
        Verdict.ACCEPTED,
        Verdict.CORRECTED,
        Verdict.REJECTED,
    ]
    for verdict in verdicts:
        task = desk.next_review("rev")
        fixed = [{**CAR, "attributes": {"state": "moving"}}] if verdict == Verdict.CORRECTED else None
        desk.verdict("rev", task["task_id"], verdict, fixed)
    corrected = desk.task(task_id_for("f-4"))
    assert corrected["state"] == TaskState.DONE
    assert corrected["review_annotations"][0]["attributes"] == {"state": "moving"}
    assert corrected["annotations"][0]["attributes"] == {"state": "parked"}  # both kept
    rejected = desk.task(task_id_for("f-5"))
    assert (rejected["state"], rejected["rejections"], rejected["annotations"]) == (TaskState.QUEUED, 1, [])
    # Relabelled after a rejection: always reviewed again.
    again = desk.next_task("bob")
    assert again["task_id"] == rejected["task_id"]
    assert desk.submit("bob", again["task_id"], [CAR]).task["review_reason"] == "relabelled"
    with engine.connect() as connection:
        figures = stats.error_rates(connection)
    assert figures["by_labeller"]["ann"]["reviewed"] == 6
    assert figures["by_labeller"]["ann"]["errors"] == 2
    assert figures["by_class"]["car"]["rate"] == pytest.approx(2 / 6)
    low, high = figures["overall"]["low"], figures["overall"]["high"]
    assert low < 2 / 6 < high
    assert (round(low, 3), round(high, 3)) == (0.097, 0.700)  # Wilson, 2 of 6


def test_review_needs_the_reviewer_lease(engine) -> None:
    clock = Clock()
    desk = desk_with(engine, clock, [selected("f")], rate=1.0)
    task = desk.next_task("ann")
    desk.submit("ann", task["task_id"], [CAR])
    with pytest.raises(LeaseError, match="review"):
        desk.verdict("rev", task["task_id"], Verdict.ACCEPTED)
    assert desk.next_review("rev")["task_id"] == task["task_id"]
    with pytest.raises(LeaseError):
        desk.verdict("other", task["task_id"], Verdict.ACCEPTED)
    with pytest.raises(InvalidSubmissionError, match="annotations"):
        desk.verdict("rev", task["task_id"], Verdict.CORRECTED, [{"class": "bus", "box": [0, 0, 1, 1]}])


def test_a_new_labeller_is_reviewed_at_first_and_qa_flags_route_to_review(engine) -> None:
    clock = Clock()
    pre = [detection("person", 0.95, (0.5, 0.2, 0.6, 0.6))]
    desk = desk_with(engine, clock, [selected(f"f-{i}", detections=pre) for i in range(4)], new_labeller_tasks=2)
    person = {"class": "person", "box": [0.5, 0.2, 0.6, 0.6]}
    reasons = []
    for _ in range(3):
        task = desk.next_task("new")
        reasons.append(desk.submit("new", task["task_id"], [person]).task["review_reason"])
    assert reasons == ["new_labeller", "new_labeller", None]
    task = desk.next_task("new")
    flagged = desk.submit("new", task["task_id"], [CAR | {"box": [0.5, 0.2, 0.6, 0.6]}])  # the person called a car
    assert flagged.task["review_reason"] == "qa"
    assert flagged.task["qa_flags"] == ",class_changed,"
    assert "class_changed" in flagged.why
    # What the flag is about is kept with it, for the reviewer's page to mark the box.
    assert flagged.task["qa_findings"] == [
        {"issue": "class_changed", "index": 0, "detail": "person pre-label labelled car", "prelabel": None}
    ]
    shown = messages.task(desk.task(task["task_id"]))
    assert [(f.issue, f.annotation) for f in shown.qa_findings] == [("class_changed", 0)]


def test_prelabel_costs_count_kept_adjusted_deleted_and_added(engine) -> None:
    clock = Clock()
    pre = [
        detection("person", 0.95, (0.5, 0.2, 0.6, 0.6)),
        detection("car", 0.9, (0.1, 0.1, 0.3, 0.3)),
        detection("car", 0.4, (0.7, 0.7, 0.8, 0.8)),
    ]
    desk = desk_with(engine, clock, [selected("f", detections=pre), selected("g", priority=0.1)])
    task = desk.next_task("ann")
    clock.now += 20
    desk.submit("ann", task["task_id"], [
        {"class": "person", "box": [0.5, 0.2, 0.6, 0.6]},  # kept as it was
        {**CAR, "box": [0.11, 0.1, 0.31, 0.3]},  # adjusted
        {**CAR, "box": [0.4, 0.4, 0.5, 0.5]},  # added; the 0.4 car is deleted
    ])  # fmt: skip
    plain = desk.next_task("ann")
    clock.now += 50
    desk.submit("ann", plain["task_id"], [CAR])
    with engine.connect() as connection:
        costs = stats.prelabel_costs(connection)
    assert costs["by_model"]["tiny-test/1"] == {
        "car": {"kept": 0, "adjusted": 1, "reclassed": 0, "deleted": 1, "added": 1},
        "person": {"kept": 1, "adjusted": 0, "reclassed": 0, "deleted": 0, "added": 0},
    }
    assert (costs["median_seconds_with_prelabels"], costs["median_seconds_without_prelabels"]) == (20, 50)


def test_task_ids_are_the_same_on_every_replay() -> None:
    assert task_id_for("frame-1") == task_id_for("frame-1") != task_id_for("frame-2")
    assert uuid.UUID(task_id_for("frame-1")).version == 5


def test_a_frame_labelled_wrong_first_is_sent_to_review_once_its_track_says_so(engine) -> None:
    clock = Clock()
    frames = [selected(f"f-{i}", priority=1 - i / 10) for i in range(3)]
    desk = desk_with(engine, clock, frames)
    person = {"class": "person", "box": [0.1, 0.1, 0.3, 0.3], "track_id": "t1"}
    car = {**CAR, "track_id": "t1"}
    outcomes = []
    for given in (person, car, car):  # the first frame's class is the odd one out
        task = desk.next_task("ann")
        outcomes.append(desk.submit("ann", task["task_id"], [given]).task)
    assert [o["state"] for o in outcomes] == [TaskState.DONE, TaskState.DONE, TaskState.DONE]
    assert outcomes[1]["qa_flags"] == ""  # one frame each way: a tie says nothing
    first = desk.task(task_id_for("f-0"))
    assert (first["state"], first["review_reason"], first["qa_flags"]) == ("review", "qa", ",track_class_flip,")
    assert desk.task(task_id_for("f-1"))["state"] == TaskState.DONE


async def test_a_label_evaluate_flags_goes_to_review_once_unless_a_reviewer_judged_it(engine) -> None:
    from framesift.contracts.codec import MalformedMessageError
    from framesift.services.label.handlers import LabelDeps, record_flagged
    from framesift.v1 import evaluation_pb2

    clock = Clock()
    desk = desk_with(engine, clock, [selected("f-done"), selected("f-judged")], rate=0.0)
    for _ in range(2):
        task = desk.next_task("ann")
        assert desk.submit("ann", task["task_id"], [CAR]).task["state"] == TaskState.DONE
    judged = desk.task(task_id_for("f-judged"))
    with engine.begin() as connection:  # as if a reviewer had accepted it already
        connection.execute(
            sa.text("UPDATE label_tasks SET verdict = 'accepted' WHERE task_id = :t"), {"t": judged["task_id"]}
        )

    deps = LabelDeps(engine, clock)
    for frame_id in ("f-done", "f-done", "f-judged", "f-unknown"):  # a redelivery; a frame without a task
        flag = evaluation_pb2.LabelFlagged(frame_id=frame_id, issue="swapped", score=0.02, class_name="car",
                                           suggested_class="person", model_version="det/2", run_id="run-1")  # fmt: skip
        await record_flagged(flag, deps)
    flagged = desk.task(task_id_for("f-done"))
    assert (flagged["state"], flagged["review_reason"], flagged["qa_flags"]) == (
        TaskState.REVIEW, "label_error", ",model_swapped,",
    )  # fmt: skip
    assert desk.task(task_id_for("f-judged"))["state"] == TaskState.DONE
    review = desk.next_review("rev")
    assert review["task_id"] == flagged["task_id"]
    with pytest.raises(MalformedMessageError, match="issue 'mislabelled'"):
        await record_flagged(evaluation_pb2.LabelFlagged(frame_id="f-done", issue="mislabelled"), deps)


def test_splits_are_stratified_by_camera_and_part_of_day_and_a_replay_gives_the_same(engine, tmp_path) -> None:
    from framesift.contracts.splits import SplitSettings

    splits = SplitSettings(evaluation=0.2, val=0.1)
    hours = (3, 9, 14, 19)  # night, morning, afternoon, evening
    events = []
    for camera in ("cam-1", "cam-2"):
        for at in range(60):
            event = selected(f"{camera}-{at:03d}", camera=camera)
            event.frame.captured_at.CopyFrom(
                timestamp(1_795_000_000.0 - 1_795_000_000.0 % 86_400 + hours[at % 4] * 3600 + at)
            )
            events.append(event)

    def made(target) -> dict[str, str]:
        with target.begin() as connection:
            for event in [*events, *events[:7]]:  # seven redelivered: they shift nobody's place
                create_task(connection, event, 1.0, splits)
        with target.connect() as connection:
            return dict(connection.execute(sa.text("SELECT frame_id, split FROM label_tasks")).all())

    first = made(engine)
    for camera in ("cam-1", "cam-2"):
        for part in range(4):
            stratum = [f"{camera}-{at:03d}" for at in range(60) if at % 4 == part]  # 15 frames each
            assert sum(first[f] == "evaluation" for f in stratum) in (2, 3, 4)  # 20 % of 15 = 3
    replay = make_engine(f"sqlite:///{tmp_path / 'replay.db'}")
    create_schema(replay, ["label"])
    assert made(replay) == first
    replay.dispose()
