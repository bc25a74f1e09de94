"""The labelling desk: tasks from selected frames, the queue and its leases, submissions, reviews.

Every operation is one transaction. A task's state moves
    queued -> labelling (leased) -> review -> reviewing (leased) -> done
                                  \\-> done (not sampled)          \\-> queued (rejected)
and a lease that expires puts its task back where it was taken from. Concurrent labellers never
hold one task: a take is a conditional UPDATE that only one of them wins (PostgreSQL also skips
rows another transaction holds, so they do not queue behind each other). The clock is a
parameter (tests move it; nothing sleeps).
"""

from __future__ import annotations

import time
import uuid
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection, Engine

from framesift.contracts.splits import SplitSettings, stratified_split, stratum_of
from framesift.contracts.vocabulary import seconds
from framesift.sql.columns import insert_for, packed
from framesift.v1 import frames_pb2

from . import qa, review, submission
from .ontology import Ontology
from .ontology_store import VERSIONS as ONTOLOGIES
from .ontology_store import version
from .settings import LabelSettings
from .tables import LabelTask, ReviewRecord, TaskSkip

TASKS = LabelTask.__table__
DEFAULT_SPLITS = SplitSettings()
SKIPS = TaskSkip.__table__
REVIEWS = ReviewRecord.__table__
_TASK_NAMESPACE = uuid.UUID("6f1f4d0e-8a55-4c8e-9b52-3f0c2a7d1e11")


class TaskState(StrEnum):
    QUEUED = "queued"
    LABELLING = "labelling"
    REVIEW = "review"
    REVIEWING = "reviewing"
    DONE = "done"


class Verdict(StrEnum):
    ACCEPTED = "accepted"
    CORRECTED = "corrected"
    REJECTED = "rejected"


class TaskNotFoundError(LookupError):
    pass


class LeaseError(RuntimeError):
    """The task is not leased to the caller (someone else holds it, or it is not in that stage)."""


class NoOntologyError(RuntimeError):
    """Nothing can be labelled before an ontology exists."""


def task_id_for(frame_id: str) -> str:
    """One task per frame, whoever creates it: the id is derived from the frame id."""
    return str(uuid.uuid5(_TASK_NAMESPACE, frame_id))


def task_row(event: frames_pb2.FrameSelected, now: float) -> dict[str, Any]:
    prelabels = [
        {
            "class": d.class_name,
            "score": round(float(d.score), 6),
            "box": [round(float(v), 6) for v in (d.box.x_min, d.box.y_min, d.box.x_max, d.box.y_max)],
        }
        for d in event.detections
    ]
    return {
        "task_id": task_id_for(event.frame_id),
        "frame_id": event.frame_id,
        "camera_id": event.camera_id,
        "captured_at": seconds(event.frame.captured_at),
        "object_key": event.frame.object_key,
        "sha256": event.frame.sha256,
        "width": event.width,
        "height": event.height,
        "priority": float(event.priority.total),
        "selection_batch": event.selection_batch,
        "model": f"{event.model_name}/{event.model_version}" if event.has_detector else "",
        "has_detector": event.has_detector,
        "prelabels": prelabels,
        "classes": packed([p["class"] for p in prelabels]),
        "state": TaskState.QUEUED.value,
        "lease_expires": 0.0,
        "leased_at": 0.0,
        "annotations": [],
        "frame_classes": [],
        "qa_flags": "",
        "rejections": 0,
        "skips": 0,
        "published": False,
        # The selection's time, so a replay of frames.selected makes identical tasks.
        "created_at": seconds(event.selected_at) if event.HasField("selected_at") else now,
    }


def create_task(
    connection: Connection, event: frames_pb2.FrameSelected, now: float, splits: SplitSettings = DEFAULT_SPLITS
) -> bool:
    """True when this call created it; a redelivery or a replay creates nothing. The task's split
    is its place among its stratum's tasks (framesift.contracts.splits): counted here, in the
    transaction that inserts it, and a camera's frames come in order from one partition (a
    redelivery counts too, and its insert does nothing)."""
    row = task_row(event, now)
    row["stratum"] = stratum_of(row["camera_id"], row["captured_at"])
    position = connection.execute(
        sa.select(sa.func.count()).select_from(TASKS).where(TASKS.c.stratum == row["stratum"])
    ).scalar_one()
    row["split"] = stratified_split(row["stratum"], position, splits).value
    statement = (
        insert_for(connection.dialect.name, TASKS).values(**row).on_conflict_do_nothing(index_elements=["task_id"])
    )
    # RETURNING, not rowcount: psycopg reports -1 for this statement.
    return connection.execute(statement.returning(TASKS.c.task_id)).first() is not None


@dataclass(frozen=True)
class QueueFilter:
    camera: str | None = None
    label_class: str | None = None  # a class among the task's pre-labels
    batch: str | None = None  # the selection batch (curate's window)


ANY_TASK = QueueFilter()


@dataclass(frozen=True)
class Outcome:
    task: dict[str, Any]
    why: str  # why it is (not) reviewed, or what the verdict did


class LabelDesk:
    def __init__(self, engine: Engine, settings: LabelSettings, clock: Callable[[], float] = time.time) -> None:
        self.engine, self.settings, self.clock = engine, settings, clock
        self._ontology: Ontology | None = None  # the latest version, parsed once

    def ontology(self, connection: Connection) -> Ontology:
        """The latest version (one cheap query; parsed again only when a new version exists)."""
        newest = connection.execute(sa.select(sa.func.max(ONTOLOGIES.c.version))).scalar()
        if newest is None:
            raise NoOntologyError("no ontology yet: set one with `framesift label ontology set FILE` or the API")
        if self._ontology is None or self._ontology.version != newest:
            self._ontology = version(connection, newest)
        return self._ontology

    # -- reading -----------------------------------------------------------------------------

    def task(self, task_id: str) -> dict[str, Any]:
        with self.engine.connect() as connection:
            return _task(connection, task_id)

    def task_for_frame(self, frame_id: str) -> dict[str, Any]:
        return self.task(task_id_for(frame_id))

    # -- labelling ---------------------------------------------------------------------------

    def next_task(self, labeller: str, where: QueueFilter = ANY_TASK) -> dict[str, Any] | None:
        """The labeller's current lease, or the highest-priority free task, leased to them."""
        now = self.clock()
        with self.engine.begin() as connection:
            held = _held(connection, labeller, TaskState.LABELLING, now)
            if held is not None:
                return held
            skipped = sa.exists().where(SKIPS.c.task_id == TASKS.c.task_id, SKIPS.c.labeller == labeller)
            query = sa.select(TASKS.c.task_id, TASKS.c.priority).where(~skipped)
            if where.camera:
                query = query.where(TASKS.c.camera_id == where.camera)
            if where.label_class:
                query = query.where(TASKS.c.classes.contains(f",{where.label_class},", autoescape=True))
            if where.batch:
                query = query.where(TASKS.c.selection_batch == where.batch)
            return _take(connection, query, TaskState.QUEUED, TaskState.LABELLING, labeller, now, self.settings.lease_s)

    def skip(self, labeller: str, task_id: str, reason: str = "") -> None:
        """Give the task back; it never comes to this labeller again."""
        now = self.clock()
        with self.engine.begin() as connection:
            task = _leased(connection, task_id, labeller, TaskState.LABELLING)
            connection.execute(
                insert_for(connection.dialect.name, SKIPS)
                .values(task_id=task_id, labeller=labeller, reason=reason[:500], at=now)
                .on_conflict_do_nothing()
            )
            connection.execute(
                TASKS.update()
                .where(TASKS.c.task_id == task["task_id"])
                .values(state=TaskState.QUEUED.value, lease_holder=None, lease_expires=0.0, skips=TASKS.c.skips + 1)
            )

    def submit(
        self,
        labeller: str,
        task_id: str,
        annotations: Sequence[Mapping[str, Any]] | None,
        frame_classes: Sequence[str] = (),
        *,
        accept_prelabels: bool = False,
    ) -> Outcome:
        """Store the labeller's annotations (validated against the latest ontology), run the QA
        checks and decide on review; a task not sampled is done at once."""
        now = self.clock()
        with self.engine.begin() as connection:
            task = _leased(connection, task_id, labeller, TaskState.LABELLING, lock=True)
            ontology = self.ontology(connection)
            if accept_prelabels:
                stored = submission.from_prelabels(task["prelabels"], ontology)
            else:
                stored = submission.annotations(annotations or (), ontology, task["prelabels"])
            classes = submission.frame_classes(frame_classes, ontology)
            seconds_spent = max(0.0, now - task["leased_at"])
            return self._record(connection, task, labeller, ontology, stored, classes, seconds_spent, now)

    def submit_from_tool(
        self,
        connection: Connection,
        task_id: str,
        labeller: str,
        annotations: Sequence[Mapping[str, Any]],
        frame_classes: Sequence[str],
        labelling_seconds: float,
    ) -> Outcome:
        """A submission made in the labelling tool (Label Studio): no lease (the tool assigns the
        work), in any state; it starts a new round, as a labeller's resubmission does. A done task
        is published again (a correction: consumers keep the newest). Runs in the caller's
        transaction, which also records what was applied."""
        now = self.clock()
        task = _task(connection, task_id, lock=True)
        ontology = self.ontology(connection)
        stored = submission.annotations(annotations, ontology, task["prelabels"])
        classes = submission.frame_classes(frame_classes, ontology)
        return self._record(connection, task, labeller, ontology, stored, classes, max(0.0, labelling_seconds), now)

    def _record(
        self,
        connection: Connection,
        task: dict[str, Any],
        labeller: str,
        ontology: Ontology,
        stored: list[dict[str, Any]],
        classes: list[str],
        labelling_seconds: float,
        now: float,
    ) -> Outcome:
        """Store a submission, run the QA checks and decide on review (not sampled: done at once)."""
        tracks = _track_frames(connection, task, stored)
        findings = qa.check(
            qa.Labelled(
                annotations=stored,
                prelabels=task["prelabels"],
                width=task["width"] or 1,
                height=task["height"] or 1,
                ontology=ontology,
                track_classes={track: Counter(frames.values()) for track, frames in tracks.items()},
            ),
            self.settings.qa,
        )
        flags = sorted({f.issue.value for f in findings})
        history = _history(connection, labeller, now - self.settings.review.period_s)
        reason, why = review.reason(
            self.settings.review,
            task_id=task["task_id"],
            camera=task["camera_id"],
            labeller=labeller,
            classes=[a["class"] for a in stored],
            flags=flags,
            history=history,
            rejections=task["rejections"],
        )
        values = {
            "state": (TaskState.REVIEW if reason else TaskState.DONE).value,
            "lease_holder": None,
            "lease_expires": 0.0,
            "labeller": labeller,
            "ontology_version": ontology.version,
            "annotations": stored,
            "frame_classes": classes,
            "labelling_seconds": labelling_seconds,
            "submitted_at": now,
            "qa_flags": packed(flags),
            "qa_findings": [
                {"issue": f.issue.value, "index": f.index, "detail": f.detail, "prelabel": f.prelabel} for f in findings
            ],
            "review_reason": reason,
            # A new round: an earlier round's verdict lives on in label_reviews.
            "reviewer": None,
            "verdict": None,
            "review_annotations": None,
            "reviewed_at": None,
            "published": False,
            "withdrawn_at": None,  # labelled again: a pending withdrawal is overtaken
        }
        connection.execute(TASKS.update().where(TASKS.c.task_id == task["task_id"]).values(**values))
        _flag_earlier_flips(connection, tracks, stored)
        return Outcome({**task, **values}, why)

    def withdraw(self, connection: Connection, task_id: str, flag: str = "") -> bool:
        """The task's labels were deleted in the labelling tool: it goes back to the queue with
        no labels (and `flag`, if given). When labels.completed was already sent, the withdrawal
        is published through the outbox (a correction, not a silent divergence). True when
        something changed."""
        task = _task(connection, task_id, lock=True)
        if task["state"] == TaskState.QUEUED.value and not task["annotations"]:
            return False
        was_published = task["state"] == TaskState.DONE.value and task["published"]
        flags = {f for f in task["qa_flags"].split(",") if f} if flag else set()
        connection.execute(
            TASKS.update()
            .where(TASKS.c.task_id == task_id)
            .values(
                state=TaskState.QUEUED.value,
                lease_holder=None,
                lease_expires=0.0,
                labeller=None,
                annotations=[],
                frame_classes=[],
                review_reason=None,
                reviewer=None,
                verdict=None,
                review_annotations=None,
                reviewed_at=None,
                qa_flags=packed(flags | {flag}) if flag else "",
                qa_findings=None,
                published=False,
                withdrawn_at=self.clock() if was_published or task["withdrawn_at"] else None,
            )
        )
        return True

    def flag(self, connection: Connection, task_id: str, flag: str, detail: str) -> None:
        """Mark a task with a problem the labelling tool's data caused (an unknown label), so it is
        seen rather than dropped: the flag shows in the queue and on the task's page."""
        task = _task(connection, task_id, lock=True)
        flags = {f for f in task["qa_flags"].split(",") if f} | {flag}
        findings = [f for f in task["qa_findings"] or () if f["issue"] != flag]
        connection.execute(
            TASKS.update()
            .where(TASKS.c.task_id == task_id)
            .values(
                qa_flags=packed(flags),
                qa_findings=[*findings, {"issue": flag, "index": None, "detail": detail, "prelabel": None}],
            )
        )

    # -- review ------------------------------------------------------------------------------

    def next_review(self, reviewer: str) -> dict[str, Any] | None:
        """The reviewer's current lease, or the highest-priority task waiting for review that
        someone else labelled."""
        now = self.clock()
        with self.engine.begin() as connection:
            held = _held(connection, reviewer, TaskState.REVIEWING, now)
            if held is not None:
                return held
            query = sa.select(TASKS.c.task_id, TASKS.c.priority).where(TASKS.c.labeller != reviewer)
            return _take(connection, query, TaskState.REVIEW, TaskState.REVIEWING, reviewer, now, self.settings.lease_s)

    def verdict(
        self,
        reviewer: str,
        task_id: str,
        verdict: Verdict,
        annotations: Sequence[Mapping[str, Any]] | None = None,
        note: str = "",
    ) -> Outcome:
        now = self.clock()
        with self.engine.begin() as connection:
            task = _leased(connection, task_id, reviewer, TaskState.REVIEWING, lock=True)
            corrected = None
            if verdict == Verdict.CORRECTED:
                ontology = self.ontology(connection)
                corrected = submission.annotations(annotations or (), ontology, task["prelabels"])
            connection.execute(
                REVIEWS.insert().values(
                    task_id=task["task_id"],
                    labeller=task["labeller"] or "",
                    reviewer=reviewer,
                    camera_id=task["camera_id"],
                    classes=packed([a["class"] for a in task["annotations"]]),
                    reason=task["review_reason"] or "",
                    random=task["review_reason"] == review.SAMPLED,
                    verdict=verdict.value,
                    labeller_annotations=task["annotations"],
                    at=now,
                )
            )
            if verdict == Verdict.REJECTED:
                values: dict[str, Any] = {
                    "state": TaskState.QUEUED.value,
                    "rejections": task["rejections"] + 1,
                    "labeller": None,
                    "annotations": [],
                    "frame_classes": [],
                    "review_reason": None,
                    "qa_flags": "",
                    "qa_findings": None,
                }
                why = "rejected: back to the queue"
            else:
                values = {"state": TaskState.DONE.value, "review_annotations": corrected, "published": False}
                why = f"{verdict.value}: done"
            values |= {"lease_holder": None, "lease_expires": 0.0, "reviewer": reviewer, "verdict": verdict.value}
            values["reviewed_at"] = now
            connection.execute(TASKS.update().where(TASKS.c.task_id == task["task_id"]).values(**values))
            return Outcome({**task, **values}, f"{why}{'; ' + note if note else ''}")


# -- SQL pieces --------------------------------------------------------------------------------


def _task(connection: Connection, task_id: str, *, lock: bool = False) -> dict[str, Any]:
    query = sa.select(TASKS).where(TASKS.c.task_id == task_id)
    row = connection.execute(query.with_for_update() if lock else query).mappings().first()
    if row is None:
        raise TaskNotFoundError(f"no task {task_id!r}")
    return dict(row)


def _held(connection: Connection, who: str, state: TaskState, now: float) -> dict[str, Any] | None:
    row = (
        connection.execute(
            sa.select(TASKS)
            .where(TASKS.c.state == state.value, TASKS.c.lease_holder == who, TASKS.c.lease_expires > now)
            .order_by(TASKS.c.leased_at)
            .limit(1)
        )
        .mappings()
        .first()
    )
    return dict(row) if row else None


def _take(
    connection: Connection,
    candidates: sa.Select,
    waiting: TaskState,
    held: TaskState,
    who: str,
    now: float,
    lease_s: float,
    attempts: int = 8,
) -> dict[str, Any] | None:
    """Lease the highest-priority task waiting (or whose lease in `held` expired) that nobody
    else takes first. Waiting and expired tasks are two index range scans on (state, priority,
    task_id), merged here, rather than one OR the planner would scan the table for."""
    order = (TASKS.c.priority.desc(), TASKS.c.task_id.desc())
    expired = sa.and_(TASKS.c.state == held.value, TASKS.c.lease_expires <= now)
    sources = [candidates.where(TASKS.c.state == waiting.value), candidates.where(expired)]
    free = sa.or_(TASKS.c.state == waiting.value, expired)
    for _ in range(attempts):
        found = [
            row
            for source in sources
            if (row := connection.execute(source.order_by(*order).limit(1).with_for_update(skip_locked=True)).first())
        ]
        if not found:
            return None
        task_id = max(found, key=lambda row: (row.priority, row.task_id)).task_id
        won = connection.execute(
            TASKS.update()
            .where(TASKS.c.task_id == task_id, free)
            .values(state=held.value, lease_holder=who, leased_at=now, lease_expires=now + lease_s)
        ).rowcount
        if won:
            return _task(connection, task_id)
    return None  # contended every time: the caller asks again


def _leased(connection: Connection, task_id: str, who: str, state: TaskState, *, lock: bool = False) -> dict[str, Any]:
    """The task, if `who` holds it in `state`. An expired lease still counts until someone else
    takes the task (nothing is lost by accepting a late submission)."""
    task = _task(connection, task_id, lock=lock)
    if task["state"] != state.value or task["lease_holder"] != who:
        if task["state"] == state.value and task["lease_holder"]:
            raise LeaseError(f"task {task_id} is leased to someone else")
        raise LeaseError(f"task {task_id} is {task['state']}, not leased to {who}: take it with next first")
    return task


def _history(connection: Connection, labeller: str, since: float) -> review.History:
    count = sa.func.count()
    tasks = connection.execute(
        sa.select(count).select_from(TASKS).where(TASKS.c.labeller == labeller, TASKS.c.submitted_at.is_not(None))
    ).scalar_one()
    reviews = (
        connection.execute(
            sa.select(REVIEWS.c.classes, REVIEWS.c.random, REVIEWS.c.verdict).where(
                REVIEWS.c.labeller == labeller, REVIEWS.c.at >= since
            )
        )
        .mappings()
        .all()
    )
    per_class: dict[str, int] = {}
    for row in connection.execute(sa.select(REVIEWS.c.classes).where(REVIEWS.c.at >= since)).scalars():
        for name in filter(None, row.split(",")):
            per_class[name] = per_class.get(name, 0) + 1
    random = [r for r in reviews if r["random"]]
    return review.History(
        labeller_tasks=tasks,
        labeller_reviews=len(reviews),
        class_reviews=per_class,
        labeller_random=len(random),
        labeller_random_errors=sum(r["verdict"] in review.ERRORS for r in random),
    )


def _track_frames(
    connection: Connection, task: Mapping[str, Any], stored: Sequence[Mapping[str, Any]], within_s: float = 3600.0
) -> dict[str, dict[str, str]]:
    """For each track id in `stored`: the other submitted frames of this camera (within an hour)
    that have it, as {task id: class}."""
    tracks = {a["track_id"] for a in stored if a["track_id"]}
    if not tracks:
        return {}
    rows = connection.execute(
        sa.select(TASKS.c.task_id, TASKS.c.annotations).where(
            TASKS.c.camera_id == task["camera_id"],
            TASKS.c.task_id != task["task_id"],
            TASKS.c.submitted_at.is_not(None),
            TASKS.c.captured_at.between(task["captured_at"] - within_s, task["captured_at"] + within_s),
        )
    )
    found: dict[str, dict[str, str]] = {}
    for row in rows:
        for a in row.annotations:
            if a.get("track_id") in tracks:
                found.setdefault(a["track_id"], {})[row.task_id] = a["class"]
    return found


def _flag_earlier_flips(
    connection: Connection, tracks: Mapping[str, Mapping[str, str]], stored: Sequence[Mapping[str, Any]]
) -> None:
    """An earlier frame whose class for a track this submission puts in the minority goes to
    review (a done, unreviewed task back to review: its labels.completed is sent again after the
    verdict), flagged track_class_flip. The wrong frame is often labelled first."""
    mine = {a["track_id"]: a["class"] for a in stored if a["track_id"]}
    for track, frames in tracks.items():
        votes = {**frames, "": mine[track]}
        for task_id in qa.minority(votes) - {""}:
            send_to_review(connection, TASKS.c.task_id == task_id, "track_class_flip", review.QA)


def send_to_review(connection: Connection, which: Any, flag: str, reason: str) -> int:
    """Tasks matching `which` that wait for review, or are done and were never reviewed, get
    `flag` (once) and wait for review; a task a reviewer already judged, or one being labelled
    again, is left as it is. Returns how many tasks it changed."""
    flags = sa.func.replace(TASKS.c.qa_flags, f",{flag},", ",") + f"{flag},"
    flags = sa.case((TASKS.c.qa_flags == "", f",{flag},"), else_=flags)
    waiting = TASKS.c.state == TaskState.REVIEW.value
    unreviewed = sa.and_(TASKS.c.state == TaskState.DONE.value, TASKS.c.verdict.is_(None))
    changed = connection.execute(
        TASKS.update()
        .where(which, sa.or_(waiting, unreviewed))
        .values(
            state=TaskState.REVIEW.value,
            qa_flags=flags,
            review_reason=sa.case((waiting, TASKS.c.review_reason), else_=reason),
        )
        .returning(TASKS.c.task_id)
    )
    return len(changed.all())
