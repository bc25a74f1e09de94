"""The label service's tables: ontology versions, tasks, who skipped what, reviews' history, and
labellers. On a metadata of their own, created and changed only by migrations.py."""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, Column, UniqueConstraint
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel


class LabelTable(SQLModel, registry=registry()):
    """Base of the label service's tables: a metadata of their own."""


class OntologyVersion(LabelTable, table=True):
    __tablename__ = "label_ontology_versions"

    version: int = Field(primary_key=True)
    classes: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    created_at: float = 0.0
    author: str = Field(default="", max_length=128)


class LabelTask(LabelTable, table=True):
    """One frame's labelling work: its pre-labels, the lease, the submission and the review."""

    __tablename__ = "label_tasks"

    task_id: str = Field(primary_key=True, max_length=64)  # derived from the frame id
    frame_id: str = Field(unique=True, max_length=128)
    camera_id: str = Field(default="", index=True, max_length=64)
    captured_at: float = 0.0
    object_key: str = Field(default="", max_length=512)
    sha256: str = Field(default="", max_length=64)
    width: int = 0
    height: int = 0
    priority: float = Field(default=0.0, index=True)
    selection_batch: str = Field(default="", max_length=64)
    model: str = Field(default="", max_length=256)  # the detector's "name/version"; "" without one
    has_detector: bool = False
    prelabels: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    classes: str = ""  # ",car,person," of the pre-labels, for the queue's class filter
    state: str = Field(default="queued", index=True, max_length=16)  # tasks.TaskState
    lease_holder: str | None = Field(default=None, max_length=64)
    lease_expires: float = 0.0
    leased_at: float = 0.0
    labeller: str | None = Field(default=None, max_length=64)
    ontology_version: int | None = None
    annotations: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    frame_classes: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    labelling_seconds: float | None = None
    submitted_at: float | None = None
    qa_flags: str = ""  # ",missing_object,duplicate_box,"
    # [{"issue", "index" (the annotation, or null), "detail"}]: what each flag is about.
    qa_findings: list[dict[str, Any]] | None = Field(default=None, sa_column=Column(JSON))
    review_reason: str | None = None  # why it is reviewed; None: not sampled
    reviewer: str | None = Field(default=None, max_length=64)
    verdict: str | None = Field(default=None, max_length=16)
    review_annotations: list[dict[str, Any]] | None = Field(default=None, sa_column=Column(JSON))
    reviewed_at: float | None = None
    rejections: int = 0
    skips: int = 0
    published: bool = False  # labels.completed sent (the outbox flag)
    # Its labels were withdrawn after labels.completed (deleted in the labelling tool): the
    # withdrawal is published through the outbox, then this is cleared.
    withdrawn_at: float | None = None
    split: str | None = Field(default=None, max_length=16)  # None: made before splits were stored
    stratum: str | None = Field(default=None, max_length=96)  # camera|part of day
    created_at: float = 0.0


class TaskSkip(LabelTable, table=True):
    """A labeller skipped a task: it goes back to the queue, and never to them again."""

    __tablename__ = "label_task_skips"
    __table_args__ = (UniqueConstraint("task_id", "labeller"),)

    id: int | None = Field(default=None, primary_key=True)
    task_id: str = Field(max_length=64, index=True)
    labeller: str = Field(max_length=64)
    reason: str = ""
    at: float = 0.0


class ReviewRecord(LabelTable, table=True):
    """Every verdict (a rejected task is labelled and reviewed again: each round is kept)."""

    __tablename__ = "label_reviews"

    id: int | None = Field(default=None, primary_key=True)
    task_id: str = Field(max_length=64, index=True)
    labeller: str = Field(max_length=64, index=True)
    reviewer: str = Field(max_length=64)
    camera_id: str = Field(default="", max_length=64)
    classes: str = ""  # ",car,person," the labeller's classes
    reason: str = ""  # why it was reviewed (sampled, qa, new labeller, ...)
    random: bool = False  # chosen by the sampling rate alone: counts for the error-rate estimate
    verdict: str = Field(max_length=16)
    labeller_annotations: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    at: float = Field(default=0.0, index=True)


class Labeller(LabelTable, table=True):
    __tablename__ = "labellers"

    labeller_id: str = Field(primary_key=True, max_length=64)
    key_hash: str = Field(unique=True, max_length=64)
    reviewer: bool = False  # may review (and label)
    disabled: bool = False
    created_at: float = 0.0


class LabelDataset(LabelTable, table=True):
    """An export: an immutable dataset version a training run can name (id + manifest hash)."""

    __tablename__ = "label_datasets"

    dataset_id: str = Field(primary_key=True, max_length=64)
    manifest_sha256: str = Field(max_length=64)
    format: str = Field(max_length=16)
    query: str = ""
    ontology_version: int = 0
    frames: int = 0
    annotations: int = 0
    location: str = ""  # where it was written: a directory, or exports/<id>/ in the object store
    created_at: float = 0.0


class StudioProject(LabelTable, table=True):
    """The Label Studio project framesift keeps (by title): what it last wrote there, and how far
    reconciliation has read."""

    __tablename__ = "label_studio_projects"

    title: str = Field(primary_key=True, max_length=128)
    project_id: int
    ontology_version: int = 0  # the version whose label config the project has
    webhook_id: int | None = None
    watermark: str = ""  # Label Studio's updated_at (ISO 8601, UTC) read up to
    reconciled_at: float = 0.0


class StudioLink(LabelTable, table=True):
    """A framesift task's Label Studio task, and the annotation last taken from it."""

    __tablename__ = "label_studio_links"

    task_id: str = Field(primary_key=True, max_length=64)
    studio_task_id: int = Field(unique=True)
    project_id: int
    pushed_at: float = 0.0
    image_expires: float = 0.0  # when the signed image URL Label Studio holds stops working
    annotation_id: int | None = Field(default=None, index=True)  # the one applied last (None: none, or deleted)
    annotation_updated: str | None = Field(default=None, max_length=40)  # its updated_at then
    review_written: float | None = None  # the reviewed_at of the verdict last written there


class StudioInbox(LabelTable, table=True):
    """A webhook body that could not be used (unparsable, unknown task), kept for inspection."""

    __tablename__ = "label_studio_inbox"

    id: int | None = Field(default=None, primary_key=True)
    received_at: float = Field(default=0.0, index=True)
    status: int = 400
    reason: str = ""
    body: str = ""
