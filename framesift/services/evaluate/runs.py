"""An evaluation run: the split's COCO documents for one model version, the metrics by slice,
the stored report, then eval.reports. The report is stored whole in one transaction before it is
sent (a run that fails midway stores and sends nothing); a report not yet sent is sent by the
next sweep (at start, at shutdown, on a timer), so a bus outage delays it and loses nothing."""

from __future__ import annotations

import asyncio
import logging
import math
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy import Engine

from framesift.bus.base import BusUnavailableError
from framesift.bus.events import EventPublisher
from framesift.contracts.vocabulary import timestamp
from framesift.v1 import evaluation_pb2, frames_pb2

from . import records, report, slices
from .detection_metrics import ClassMetrics
from .label_errors import LabelErrorThresholds
from .records import EvaluationSet
from .tables import Flag, Outcome
from .tables import Run as RunRow

RUNS = RunRow.__table__
FLAGS = Flag.__table__
OUTCOMES = Outcome.__table__
log = logging.getLogger(__name__)


class UnknownModelError(LookupError):
    """No frames.embedded of this model version reached evaluate."""


class EmptySplitError(ValueError):
    """Nothing to evaluate: the split has no labelled frame this model ran on."""


class ReportNotFoundError(LookupError):
    pass


def checked_model(engine: Engine, model: str) -> None:
    with engine.connect() as connection:
        known = records.known_models(connection)
    if model not in known:
        hint = f"known: {', '.join(sorted(known))}" if known else "no model's detections have arrived yet"
        raise UnknownModelError(f"model version {model!r} has no detections here; {hint}")


def _loaded(engine: Engine, model: str, split: str, frame_ids: set[str] | None = None) -> EvaluationSet:
    with engine.connect() as connection:
        found = records.evaluation_set(connection, model, split, frame_ids)
    if found.degenerate:
        log.warning(
            "model %s, %s split: %d boxes with no area inside the frame left out", model, split, found.degenerate
        )
    if not found.truth.images:
        raise EmptySplitError(
            f"the {split} split has no labelled frame that model {model} ran on "
            f"({found.frames_without_predictions} labelled frames without its detections)"
        )
    return found


@dataclass
class Run:
    report: evaluation_pb2.EvaluationReport
    flags: list[evaluation_pb2.LabelFlagged] = field(default_factory=list)
    frames: list[evaluation_pb2.FrameOutcomes] = field(default_factory=list)


def evaluate_model(
    engine: Engine,
    model: str,
    split: str,
    dimensions: Sequence[str],
    *,
    resamples: int,
    seed: int,
    label_errors: LabelErrorThresholds | None = None,
) -> Run:
    """The run's report and, with `label_errors` thresholds, its label-error candidates."""
    checked_model(engine, model)
    found = _loaded(engine, model, split)
    result, evaluation = report.evaluate(
        found.truth, found.predictions, dimensions=dimensions, resamples=resamples, seed=seed, objects=True
    )
    flags = _flags(found, model, label_errors) if label_errors is not None else []
    made = evaluation_pb2.EvaluationReport(
        model_version=model,
        metrics={name: value for name, value in result.metrics.items() if value >= 0},  # COCO's -1: undefined
        slices=[_slice(item) for item in result.slices],
        split=split,
        images=result.images,
        objects=result.objects,
        detections=result.detections,
        frames_without_predictions=found.frames_without_predictions,
        detections_outside_ontology=found.outside_ontology,
        resamples=resamples,
        label_issues=Counter(flag.issue for flag in flags),
        classes=[_class(item) for item in sorted(result.classes, key=lambda c: c.category_id)],
    )
    return Run(made, flags, _frame_outcomes(found, evaluation))


def _class(item: ClassMetrics) -> evaluation_pb2.ClassMetrics:
    def defined(value: float) -> float | None:  # COCO's -1, and nan for a class without truth
        return value if math.isfinite(value) and value >= 0 else None

    return evaluation_pb2.ClassMetrics(
        class_id=item.category_id,
        name=item.name,
        ap=defined(item.ap),
        ap50=defined(item.ap50),
        objects=item.ground_truth,
        detections=item.detections,
        precision_at_recall=[round(v, 4) for v in item.precision_at_recall],
    )


def _relative(box: list[float], image: dict) -> frames_pb2.Box:
    x, y, w, h = box
    width, height = image["width"], image["height"]
    return frames_pb2.Box(x_min=x / width, y_min=y / height, x_max=(x + w) / width, y_max=(y + h) / height)


def _frame_outcomes(found: EvaluationSet, evaluation) -> list[evaluation_pb2.FrameOutcomes]:
    """Each frame's boxes at IoU 0.5 with their outcome, from COCO's own matching."""
    images = {image["id"]: image for image in found.truth.images}
    names = {category["id"]: category["name"] for category in found.truth.categories}
    frames = {image_id: evaluation_pb2.FrameOutcomes(frame_id=image["file_name"]) for image_id, image in images.items()}
    for row in report.object_outcomes(evaluation):
        source = evaluation.detections if row["kind"] == "detection" else evaluation.truth
        annotation = source.anns[row["id"]]
        frame = frames[row["image_id"]]
        frame.objects.append(
            evaluation_pb2.ObjectOutcome(
                kind=row["kind"],
                class_name=names[row["category_id"]],
                box=_relative(annotation["bbox"], images[row["image_id"]]),
                score=row.get("score", 0.0),
                outcome=row["outcome"],
                iou=row.get("iou", 0.0),
            )
        )
        if row["kind"] == "detection":
            frame.tp += row["outcome"] == "tp"
            frame.fp += row["outcome"] == "fp"
        elif row["outcome"] == "fn":
            frame.fn += 1
    return list(frames.values())


def _flags(found: EvaluationSet, model: str, thresholds: LabelErrorThresholds) -> list[evaluation_pb2.LabelFlagged]:
    """Candidates where the labels and the model disagree, most severe first, as labels.flagged."""
    from .label_errors import box_scores, candidates

    images = {image["id"]: image for image in found.truth.images}
    names = {category["id"]: category["name"] for category in found.truth.categories}
    scores = box_scores(found.truth, found.predictions, confident_score=thresholds.confident_score)
    flags = []
    for candidate in candidates(scores, thresholds):
        image = images[candidate.image_id]
        suggested = candidate.suggested_category_id
        flags.append(
            evaluation_pb2.LabelFlagged(
                frame_id=image["file_name"],
                issue=candidate.issue.value,
                score=candidate.score,
                box=_relative(candidate.box, image),
                class_name=names[candidate.category_id],
                suggested_class=names.get(suggested, "") if suggested is not None else "",
                model_version=model,
            )
        )
    return flags


def compare_models(
    engine: Engine, model_a: str, model_b: str, split: str, dimensions: Sequence[str], *, resamples: int, seed: int
) -> evaluation_pb2.ModelComparison:
    """A - B on the split's frames both models ran on: the same images, the same resamples."""
    from .detection_metrics import evaluate
    from .resampling import MatchTable

    for model in (model_a, model_b):
        checked_model(engine, model)
    with engine.connect() as connection:
        both = records.frames_of(connection, model_a, split) & records.frames_of(connection, model_b, split)
    a = _loaded(engine, model_a, split, both)
    b = _loaded(engine, model_b, split, both)
    names = [slices.dimension_name(text) for text in dimensions if text != "class"]
    table_a = MatchTable.from_evaluation(evaluate(a.truth, a.predictions, with_matches=True))
    table_b = MatchTable.from_evaluation(evaluate(b.truth, b.predictions, with_matches=True))
    differences = slices.compare(a.truth, table_a, table_b, names, resamples=resamples, seed=seed)
    return evaluation_pb2.ModelComparison(
        model_a=model_a,
        model_b=model_b,
        images=len(a.truth.images),
        slices=[
            evaluation_pb2.SliceDifference(
                slice=item.slice,
                support=item.images,
                difference=item.difference,
                ci95_low={k: low for k, (low, _) in item.intervals.items() if _defined(low)},
                ci95_high={k: high for k, (_, high) in item.intervals.items() if _defined(high)},
                verdict=report.verdict(item),
            )
            for item in differences
        ],
    )


def _slice(item: slices.SliceResult) -> evaluation_pb2.SliceMetrics:
    return evaluation_pb2.SliceMetrics(
        slice=item.name,
        metrics={k: v for k, v in item.metrics.items() if _defined(v)},
        support=item.images,
        objects=item.objects,
        ci95_low={k: low for k, (low, _) in item.intervals.items() if _defined(low)},
        ci95_high={k: high for k, (_, high) in item.intervals.items() if _defined(high)},
    )


def _defined(value: float) -> bool:
    """A number to send: nan (no ground truth drawn) is left out of a proto map."""
    return not math.isnan(value)


def store_run(engine: Engine, run: Run, clock: Callable[[], float]) -> None:
    """The report and its flags in one transaction (a run stored is a run whole)."""
    now = clock()
    result = run.report
    result.run_id = f"run-{uuid.uuid4().hex[:20]}"
    result.created_at.CopyFrom(timestamp(now))
    for flag in run.flags:
        flag.run_id = result.run_id
    with engine.begin() as connection:
        connection.execute(
            RUNS.insert().values(
                run_id=result.run_id,
                model_version=result.model_version,
                created_at=now,
                report=result.SerializeToString(),
                published=False,
            )
        )
        if run.frames:
            connection.execute(
                OUTCOMES.insert(),
                [
                    {"run_id": result.run_id, "frame_id": frame.frame_id, "tp": frame.tp, "fp": frame.fp,
                     "fn": frame.fn, "errors": frame.fp + frame.fn, "outcomes": frame.SerializeToString()}
                    for frame in run.frames
                ],
            )  # fmt: skip
        if run.flags:
            connection.execute(
                FLAGS.insert(),
                [
                    {"run_id": result.run_id, "seq": seq, "frame_id": flag.frame_id, "flag": flag.SerializeToString()}
                    for seq, flag in enumerate(run.flags)
                ],
            )


def get_report(engine: Engine, run_id: str) -> evaluation_pb2.EvaluationReport:
    with engine.connect() as connection:
        data = connection.execute(sa.select(RUNS.c.report).where(RUNS.c.run_id == run_id)).scalar()
    if data is None:
        raise ReportNotFoundError(f"no evaluation run {run_id!r}")
    return evaluation_pb2.EvaluationReport.FromString(data)


def list_reports(engine: Engine, model: str | None, limit: int) -> list[evaluation_pb2.EvaluationReport]:
    query = sa.select(RUNS.c.report).order_by(RUNS.c.created_at.desc(), RUNS.c.run_id).limit(limit)
    if model:
        query = query.where(RUNS.c.model_version == model)
    with engine.connect() as connection:
        return [evaluation_pb2.EvaluationReport.FromString(data) for data in connection.execute(query).scalars()]


def due_models(engine: Engine, split: str, after_frames: int) -> list[str]:
    """Model versions with at least `after_frames` more frames of the split (labelled, and
    detected by that model) than their last run scored."""
    from .records import PREDICTIONS, TRUTH

    scored = (
        sa.select(PREDICTIONS.c.model_version, sa.func.count().label("frames"))
        .select_from(PREDICTIONS.join(TRUTH, TRUTH.c.frame_id == PREDICTIONS.c.frame_id))
        .where(TRUTH.c.split == split)
        .group_by(PREDICTIONS.c.model_version)
    )
    with engine.connect() as connection:
        frames = {row.model_version: row.frames for row in connection.execute(scored)}
    due = []
    for model, count in sorted(frames.items()):
        last = list_reports(engine, model, 1)
        if count - (last[0].images if last else 0) >= after_frames:
            due.append(model)
    return due


class FrameNotInRunError(LookupError):
    pass


def frame_outcomes(engine: Engine, run_id: str, frame_id: str) -> evaluation_pb2.FrameOutcomes:
    get_report(engine, run_id)  # an unknown run is its own error
    query = sa.select(OUTCOMES.c.outcomes).where(OUTCOMES.c.run_id == run_id, OUTCOMES.c.frame_id == frame_id)
    with engine.connect() as connection:
        data = connection.execute(query).scalar()
    if data is None:
        raise FrameNotInRunError(f"frame {frame_id!r} is not in run {run_id}")
    found = evaluation_pb2.FrameOutcomes.FromString(data)
    found.run_id = run_id
    return found


def run_frames(engine: Engine, run_id: str, outcome: str, limit: int) -> list[evaluation_pb2.FrameOutcomes]:
    """The run's frames, most fp + fn first; `outcome` fp or fn keeps the frames that have one."""
    get_report(engine, run_id)
    columns = [OUTCOMES.c.frame_id, OUTCOMES.c.tp, OUTCOMES.c.fp, OUTCOMES.c.fn]
    query = sa.select(*columns).where(OUTCOMES.c.run_id == run_id)
    if outcome:
        query = query.where({"fp": OUTCOMES.c.fp, "fn": OUTCOMES.c.fn}[outcome] > 0)
    query = query.order_by(OUTCOMES.c.errors.desc(), OUTCOMES.c.frame_id).limit(limit)
    with engine.connect() as connection:
        return [
            evaluation_pb2.FrameOutcomes(run_id=run_id, frame_id=row.frame_id, tp=row.tp, fp=row.fp, fn=row.fn)
            for row in connection.execute(query)
        ]


def label_issues(engine: Engine, run_id: str, limit: int) -> list[evaluation_pb2.LabelFlagged]:
    """The run's label-error candidates, lowest score (most likely wrong) first."""
    get_report(engine, run_id)
    query = sa.select(FLAGS.c.flag).where(FLAGS.c.run_id == run_id)
    with engine.connect() as connection:
        found = [evaluation_pb2.LabelFlagged.FromString(data) for data in connection.execute(query).scalars()]
    return sorted(found, key=lambda flag: (flag.score, flag.frame_id))[:limit]


class ReportOutbox:
    """Sends stored reports not yet sent, then flags them (a crash in between sends one twice,
    which at-least-once delivery allows: a report is keyed by its run id)."""

    def __init__(self, engine: Engine, publisher: EventPublisher) -> None:
        self._engine, self._publisher = engine, publisher
        self._lock = asyncio.Lock()

    async def publish(self) -> int:
        async with self._lock:
            pending = await asyncio.to_thread(self._pending)
            for run_id, data in pending:
                report_of = evaluation_pb2.EvaluationReport.FromString(data)
                await self._publisher.publish(report_of)
                for flag in await asyncio.to_thread(self._flags, run_id):
                    await self._publisher.publish(flag)
                for frame in await asyncio.to_thread(self._frames, report_of):
                    await self._publisher.publish(frame)
                await asyncio.to_thread(self._mark, run_id)
            return len(pending)

    def _frames(self, report_of: evaluation_pb2.EvaluationReport) -> list[evaluation_pb2.FrameEvaluated]:
        """Each frame's outcome counts in the run, for curate (eval:fp, eval:fn)."""
        columns = [OUTCOMES.c.frame_id, OUTCOMES.c.tp, OUTCOMES.c.fp, OUTCOMES.c.fn]
        query = sa.select(*columns).where(OUTCOMES.c.run_id == report_of.run_id).order_by(OUTCOMES.c.frame_id)
        with self._engine.connect() as connection:
            return [
                evaluation_pb2.FrameEvaluated(
                    frame_id=row.frame_id, run_id=report_of.run_id, model_version=report_of.model_version,
                    tp=row.tp, fp=row.fp, fn=row.fn, evaluated_at=report_of.created_at,
                )
                for row in connection.execute(query)
            ]  # fmt: skip

    def _flags(self, run_id: str) -> list[evaluation_pb2.LabelFlagged]:
        query = sa.select(FLAGS.c.flag).where(FLAGS.c.run_id == run_id).order_by(FLAGS.c.seq)
        with self._engine.connect() as connection:
            return [evaluation_pb2.LabelFlagged.FromString(data) for data in connection.execute(query).scalars()]

    def _pending(self) -> list[tuple[str, bytes]]:
        query = sa.select(RUNS.c.run_id, RUNS.c.report).where(RUNS.c.published.is_(False)).order_by(RUNS.c.created_at)
        with self._engine.connect() as connection:
            return [(row.run_id, row.report) for row in connection.execute(query)]

    def _mark(self, run_id: str) -> None:
        with self._engine.begin() as connection:
            connection.execute(RUNS.update().where(RUNS.c.run_id == run_id).values(published=True))


async def publish_forever(outbox: ReportOutbox, every_s: float = 10.0) -> None:
    while True:
        await asyncio.sleep(every_s)
        try:
            await outbox.publish()
        except BusUnavailableError as exc:
            log.warning("eval.reports not sent yet, will retry: %s", exc)
