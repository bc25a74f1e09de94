"""The evaluate service: labels.completed and frames.embedded folded into SQL (idempotent, newest
labels win), runs of a model version on the evaluation split over the API, HTTP and gRPC, reports
on eval.reports through a real broker, two model versions compared; on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from collections import Counter

import grpc
import httpx
import pytest
import sqlalchemy as sa
from pydantic import SecretStr

from framesift.app.registry import build_adapters, create_schema
from framesift.contracts.splits import Split
from framesift.contracts.topics import EVAL_REPORTS
from framesift.contracts.vocabulary import timestamp
from framesift.platform.operators import OperatorToken, UnauthenticatedError
from framesift.runtime.settings import BusKind
from framesift.services.evaluate import report as coco_report
from framesift.services.evaluate.api import EvaluateApi
from framesift.services.evaluate.coco_input import CocoInputError, ground_truth, predictions
from framesift.services.evaluate.handlers import EvaluateDeps, record_detections, record_labels, record_selected
from framesift.services.evaluate.runs import (
    EmptySplitError,
    FrameNotInRunError,
    ReportNotFoundError,
    ReportOutbox,
    UnknownModelError,
)
from framesift.services.evaluate.settings import EvaluateSettings
from framesift.services.evaluate.tables import Prediction, Truth
from framesift.v1 import evaluation_pb2, evaluation_pb2_grpc, frames_pb2, labels_pb2
from tests.support.coco_sets import STRONG, WEAK, frame_events
from tests.support.running import running
from tests.support.servers import TansuBroker
from tests.support.waiting import eventually

TOKEN = "operator-secret-for-tests"
FAST = EvaluateSettings(resamples=200)


@pytest.fixture
def engine(database):
    made = sa.create_engine(database())
    create_schema(made, ["evaluate"])
    yield made
    made.dispose()


def _count(engine, table) -> int:
    with engine.connect() as connection:
        return connection.execute(sa.select(sa.func.count()).select_from(table.__table__)).scalar_one()


async def test_folds_are_idempotent_and_the_newest_labels_win(engine) -> None:
    _, _, labels, embedded = frame_events(images=5)
    deps = EvaluateDeps(engine)
    for event in [*labels, *labels[:2]]:  # two redelivered
        await record_labels(event, deps)
    for event in [*embedded, *embedded[:3]]:
        await record_detections(event, deps)
    assert (_count(engine, Truth), _count(engine, Prediction)) == (5, 10)

    corrected = labels_pb2.LabelsCompleted()
    corrected.CopyFrom(labels[0])
    del corrected.annotations[:]
    corrected.completed_at.CopyFrom(timestamp(2_000.0))
    stale = labels_pb2.LabelsCompleted()
    stale.CopyFrom(labels[0])
    stale.completed_at.CopyFrom(timestamp(500.0))
    await record_labels(corrected, deps)
    await record_labels(stale, deps)  # an older event arriving late changes nothing
    with engine.connect() as connection:
        row = connection.execute(sa.select(Truth.__table__).where(Truth.frame_id == labels[0].frame_id)).one()
    assert (row.annotations, row.completed_at) == ([], 2_000.0)

    # Withdrawn (deleted in the labelling tool): no truth for the frame, unless newer labels came.
    withdrawn = labels_pb2.LabelsCompleted()
    withdrawn.CopyFrom(corrected)  # the label service sends the task's fields, no annotations
    withdrawn.withdrawn = True
    withdrawn.completed_at.CopyFrom(timestamp(1_000.0))
    await record_labels(withdrawn, deps)  # older than the correction: it stays
    assert _count(engine, Truth) == 5
    withdrawn.completed_at.CopyFrom(timestamp(3_000.0))
    await record_labels(withdrawn, deps)
    assert _count(engine, Truth) == 4

    # Frames of the weights-free descriptor backend carry no detections to score: not stored.
    await record_detections(
        frames_pb2.FrameEmbedded(frame_id="frame-x", model_name="descriptor", model_version="1"), deps
    )
    assert _count(engine, Prediction) == 10


async def test_detections_of_frames_nobody_labels_are_dropped_after_a_while(engine) -> None:
    _, _, labels, embedded = frame_events(images=6)
    deps = EvaluateDeps(engine, clock=lambda: 1_000.0)
    for event in labels[:2]:
        await record_labels(event, deps)
    for event in embedded:  # 6 frames x 2 models
        await record_detections(event, deps)
    keep = EvaluateSettings(keep_unlabelled_s=3600)
    api = EvaluateApi(engine, keep, ReportOutbox(engine, _Sent()), OperatorToken(TOKEN), clock=lambda: 1_000.0 + 3599)
    assert await api.drop_unlabelled() == 0  # not yet an hour
    later = EvaluateApi(engine, keep, ReportOutbox(engine, _Sent()), OperatorToken(TOKEN), clock=lambda: 1_000.0 + 3601)
    assert await later.drop_unlabelled() == 8  # the 4 unlabelled frames' detections, both models
    with engine.connect() as connection:
        left = set(connection.execute(sa.select(Prediction.frame_id)).scalars())
    assert left == {labels[0].frame_id, labels[1].frame_id}


async def test_a_bad_event_is_refused_with_its_reason(engine) -> None:
    from framesift.contracts.codec import MalformedMessageError

    _, _, labels, _ = frame_events(images=1)
    sizeless = labels_pb2.LabelsCompleted()
    sizeless.CopyFrom(labels[0])
    sizeless.width = 0
    with pytest.raises(MalformedMessageError, match="no frame size"):
        await record_labels(sizeless, EvaluateDeps(engine))
    odd_split = labels_pb2.LabelsCompleted()
    odd_split.CopyFrom(labels[0])
    odd_split.split = "holdout"
    with pytest.raises(MalformedMessageError, match="split 'holdout'"):
        await record_labels(odd_split, EvaluateDeps(engine))
    assert _count(engine, Truth) == 0


class _Sent:
    """eval.reports as an in-memory list: this test is about the run; the broker test sends them."""

    def __init__(self) -> None:
        self.events: list = []

    async def publish(self, event) -> None:
        self.events.append(event)


async def test_a_run_scores_the_model_as_framesift_evaluate_does_and_is_stored(engine) -> None:
    truth_doc, found, labels, embedded = frame_events()
    deps = EvaluateDeps(engine)
    for event in [*labels, *embedded]:
        await (record_labels if isinstance(event, labels_pb2.LabelsCompleted) else record_detections)(event, deps)
    sent = _Sent()
    api = EvaluateApi(engine, FAST, ReportOutbox(engine, sent), OperatorToken(TOKEN), clock=lambda: 5_000.0)
    operator = f"Bearer {TOKEN}"

    with pytest.raises(UnauthenticatedError):
        await api.run(None, STRONG)
    with pytest.raises(UnknownModelError, match="known: tiny-det/1, tiny-det/2"):
        await api.run(operator, "tiny-det/9")
    result = await api.run(operator, STRONG)

    truth = ground_truth(truth_doc, source="gt")
    direct, _ = coco_report.evaluate(truth, predictions(found[STRONG], truth, source="pred"))
    assert (result.images, result.objects, result.detections) == (80, direct.objects, direct.detections)
    # Boxes travel as float32 fractions of the frame and are clipped to it: equal to ~1e-3.
    assert result.metrics["map"] == pytest.approx(direct.metrics["map"], abs=0.01)
    assert result.metrics["ap50"] == pytest.approx(direct.metrics["ap50"], abs=0.01)
    assert result.frames_without_predictions == 0
    names = [item.slice for item in result.slices]
    assert {"camera:cam-0", "class:car"} <= set(names)
    assert any(name.startswith("time:") for name in names)
    maps = [item.metrics["map"] for item in result.slices]
    assert maps == sorted(maps)  # worst first
    assert all(item.ci95_low["map"] <= item.metrics["map"] <= item.ci95_high["map"] for item in result.slices)

    reports = [e for e in sent.events if isinstance(e, evaluation_pb2.EvaluationReport)]
    flags = [e for e in sent.events if isinstance(e, evaluation_pb2.LabelFlagged)]
    assert [event.run_id for event in reports] == [result.run_id]
    # The label-error candidates went out with it, counted in the report, all of this run.
    assert {flag.run_id for flag in flags} <= {result.run_id}
    assert dict(result.label_issues) == dict(Counter(flag.issue for flag in flags))
    assert all(flag.frame_id.startswith("frame-") and 0 <= flag.score <= 1 for flag in flags)
    # The same candidates through the API, most likely wrong (lowest score) first.
    listed = (await api.label_issues(result.run_id)).issues
    assert sorted((f.frame_id, f.issue) for f in listed) == sorted((f.frame_id, f.issue) for f in flags)
    assert [f.score for f in listed] == sorted(f.score for f in listed)
    assert len((await api.label_issues(result.run_id, limit=1)).issues) == min(1, len(flags))
    with pytest.raises(ReportNotFoundError):
        await api.label_issues("run-nope")
    # ... and every frame's outcome counts, for curate's eval:fp / eval:fn.
    outcomes = [e for e in sent.events if isinstance(e, evaluation_pb2.FrameEvaluated)]
    assert len(outcomes) == 80
    assert {e.run_id for e in outcomes} == {result.run_id}
    assert sum(e.tp + e.fp for e in outcomes) == result.detections
    assert (await api.report(result.run_id)) == result
    weak = await api.run(operator, WEAK)
    listed = await api.reports()
    assert {r.run_id for r in listed.reports} == {result.run_id, weak.run_id}
    assert [r.run_id for r in (await api.reports(WEAK)).reports] == [weak.run_id]
    assert weak.metrics["map"] < result.metrics["map"]

    # Per frame, COCO's outcomes at IoU 0.5: the frames with a missed object first, then their boxes.
    missed = (await api.run_frames(result.run_id, "fn")).frames
    assert missed
    assert all(frame.fn > 0 for frame in missed)
    assert [f.fp + f.fn for f in missed] == sorted((f.fp + f.fn for f in missed), reverse=True)
    every = (await api.run_frames(result.run_id, limit=1000)).frames
    assert len(every) == 80
    assert sum(frame.tp + frame.fp for frame in every) == result.detections
    boxes = await api.frame_outcomes(result.run_id, missed[0].frame_id)
    outcomes = Counter((obj.kind, obj.outcome) for obj in boxes.objects)
    assert (
        (outcomes["truth", "fn"], outcomes["detection", "fp"]) == (boxes.fn, boxes.fp) == (missed[0].fn, missed[0].fp)
    )
    assert outcomes["truth", "tp"] == outcomes["detection", "tp"] == boxes.tp
    assert all(0 <= obj.box.x_min < obj.box.x_max for obj in boxes.objects)
    with pytest.raises(FrameNotInRunError):
        await api.frame_outcomes(result.run_id, "frame-nope")
    with pytest.raises(ReportNotFoundError):
        await api.run_frames("run-nope")

    # A slice in the query language reads the frames' quality metrics from frames.embedded, and
    # curate's window and priority parts from frames.selected.
    for at, event in enumerate(labels[:30]):
        chosen = frames_pb2.FrameSelected(
            frame_id=event.frame_id, selection_batch="w-1" if at < 10 else "w-2",
            priority=frames_pb2.Priority(total=0.9 if at % 3 == 0 else 0.2),
        )  # fmt: skip
        await record_selected(chosen, deps)
        await record_selected(chosen, deps)  # redelivered: nothing new
    bright = await api.run(operator, STRONG, ["brightness<0.5", "window:w-1", "priority>0.5"])
    supports = {item.slice: item.support for item in bright.slices}
    assert supports == {"brightness<0.5": 80, "window:w-1": 10, "priority>0.5": 10}
    with pytest.raises(CocoInputError, match="no image matches it"):
        await api.run(operator, STRONG, ["brightness>0.5"])

    comparison = await api.compare(STRONG, WEAK, ["camera"])
    overall = comparison.slices[0]
    assert (overall.slice, overall.support) == ("all", 80)
    assert overall.difference["map"] == pytest.approx(result.metrics["map"] - weak.metrics["map"], abs=1e-9)
    assert overall.ci95_low["map"] > 0
    assert overall.verdict == "better"
    assert {item.slice for item in comparison.slices[1:]} == {f"camera:cam-{k}" for k in range(4)}


async def test_the_service_evaluates_by_itself_as_labels_accumulate(engine) -> None:
    _, _, labels, embedded = frame_events(images=30)
    deps = EvaluateDeps(engine)
    every = EvaluateSettings(resamples=20, auto_after_frames=20, slices=["camera"])
    api = EvaluateApi(engine, every, ReportOutbox(engine, _Sent()), OperatorToken(TOKEN))
    for event in labels[:15]:
        await record_labels(event, deps)
    for event in embedded:
        await record_detections(event, deps)
    assert await api.run_due() == []  # 15 frames: not yet
    for event in labels[15:]:
        await record_labels(event, deps)
    made = await api.run_due()
    assert sorted((r.model_version, r.images, r.requested_by) for r in made) == [
        (WEAK, 30, "auto"),
        (STRONG, 30, "auto"),
    ]
    assert await api.run_due() == []  # nothing new since
    off = EvaluateApi(
        engine, EvaluateSettings(auto_after_frames=0), ReportOutbox(engine, _Sent()), OperatorToken(TOKEN)
    )
    assert await off.run_due() == []


async def test_an_empty_split_is_an_error_saying_so(engine) -> None:
    _, _, labels, embedded = frame_events(images=4)
    deps = EvaluateDeps(engine)
    for event in labels:
        await record_labels(event, deps)
    for event in embedded:
        await record_detections(event, deps)
    val_only = EvaluateSettings(split=Split.VAL, resamples=50)
    api = EvaluateApi(engine, val_only, ReportOutbox(engine, _Sent()), OperatorToken(TOKEN))
    with pytest.raises(EmptySplitError, match="the val split has no labelled frame that model tiny-det/2 ran on"):
        await api.run(f"Bearer {TOKEN}", STRONG)
    assert (await api.reports()).reports == []  # nothing half-written


@pytest.fixture
def broker(tmp_path):
    server = TansuBroker(log_path=tmp_path / "tansu.log").start()
    yield server.bootstrap
    server.stop()


async def test_through_the_broker_over_http_and_grpc(embedded_settings, broker, postgres_url) -> None:
    from tests.support.curation import fresh_postgres

    _, _, labels, embedded = frame_events(images=40)
    with fresh_postgres(postgres_url) as url:
        settings = embedded_settings.model_copy(
            update={
                "bus": BusKind.KAFKA, "kafka_bootstrap_servers": broker, "kafka_idempotence": False,
                "database_url": url, "operator_token": SecretStr(TOKEN),
                "evaluate": EvaluateSettings(group=f"evaluate-{uuid.uuid4().hex[:6]}", resamples=100),
            }
        )  # fmt: skip
        adapters = build_adapters(settings, services=["evaluate"])
        async with running(adapters, ["evaluate"]) as runner:
            publisher = adapters.publisher()
            for event in [*labels, *embedded]:
                await publisher.publish(event)

            def folded() -> bool:
                return _count(adapters.engine, Truth) == 40 and _count(adapters.engine, Prediction) == 80

            await eventually(folded, timeout=60, what="evaluate to fold both topics")
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{runner.http_port}") as client:
                refused = await client.post("/v1/evaluations/runs", json={"model_version": STRONG})
                assert (refused.status_code, refused.json()["code"]) == (401, "unauthenticated")
                headers = {"authorization": f"Bearer {TOKEN}"}
                unknown = await client.post("/v1/evaluations/runs", json={"model_version": "x/1"}, headers=headers)
                assert (unknown.status_code, unknown.json()["code"]) == (404, "unknown_model")
                bad = await client.post(
                    "/v1/evaluations/runs", json={"model_version": STRONG, "slices": ["no such!"]}, headers=headers
                )
                assert (bad.status_code, bad.json()["code"]) == (400, "invalid_argument")
                made = await client.post(
                    "/v1/evaluations/runs", json={"model_version": STRONG, "slices": ["camera"]}, headers=headers
                )
                assert made.status_code == 201, made.text
                run_id = made.json()["run_id"]
                assert made.json()["metrics"]["map"] > 0
                assert (await client.get(f"/v1/evaluations/runs/{run_id}")).json()["run_id"] == run_id
                worst = (await client.get(f"/v1/evaluations/runs/{run_id}/frames", params={"outcome": "fp"})).json()
                frame_id = worst["frames"][0]["frame_id"]
                boxes = (await client.get(f"/v1/evaluations/runs/{run_id}/frames/{frame_id}")).json()
                assert sum(obj["outcome"] == "fp" for obj in boxes["objects"]) == worst["frames"][0]["fp"] > 0
                odd = await client.get(f"/v1/evaluations/runs/{run_id}/frames", params={"outcome": "maybe"})
                assert (odd.status_code, odd.json()["code"]) == (400, "invalid_argument")
                missing = await client.get("/v1/evaluations/runs/run-nope")
                assert (missing.status_code, missing.json()["code"]) == (404, "not_found")

            async with grpc.aio.insecure_channel(f"127.0.0.1:{runner.grpc_port}") as channel:
                stub = evaluation_pb2_grpc.EvaluationServiceStub(channel)
                compared = await stub.CompareModels(evaluation_pb2.CompareModelsRequest(model_a=STRONG, model_b=WEAK))
                assert compared.slices[0].verdict == "better"
                with pytest.raises(grpc.aio.AioRpcError) as refused_grpc:
                    await stub.RunEvaluation(evaluation_pb2.RunEvaluationRequest(model_version=STRONG))
                assert refused_grpc.value.code() == grpc.StatusCode.UNAUTHENTICATED
                listed = await stub.ListReports(evaluation_pb2.ListReportsRequest(model_version=STRONG))
                assert [r.run_id for r in listed.reports] == [run_id]

            async def reported() -> bool:
                sent = await adapters.bus.read(EVAL_REPORTS.name)
                return any(evaluation_pb2.EvaluationReport.FromString(r.value).run_id == run_id for r in sent)

            await eventually(reported, timeout=30, what="the run on eval.reports")
        adapters.close()
