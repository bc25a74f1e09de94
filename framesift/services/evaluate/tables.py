"""The evaluate service's tables: what labellers said each frame shows, what each model version
found on it, and the runs. On a metadata of their own, created and changed only by migrations.py."""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, Column, LargeBinary
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel


class EvaluateTable(SQLModel, registry=registry()):
    """Base of the evaluate service's tables: a metadata of their own."""


class Truth(EvaluateTable, table=True):
    """A labelled frame (labels.completed): the latest labels win (a correction replaces them)."""

    __tablename__ = "eval_truth"

    frame_id: str = Field(primary_key=True, max_length=128)
    camera_id: str = Field(max_length=64)
    captured_at: float
    width: int
    height: int
    object_key: str = Field(max_length=512)  # "" when label did not send one
    split: str = Field(max_length=16, index=True)
    ontology_version: str = Field(max_length=16)
    # [{"class_id", "class", "box": [x_min, y_min, x_max, y_max] relative}]
    annotations: list[dict[str, Any]] = Field(sa_column=Column(JSON, nullable=False))
    completed_at: float


class Prediction(EvaluateTable, table=True):
    """A model version's detections on a frame (frames.embedded), and the frame's quality metrics."""

    __tablename__ = "eval_predictions"

    frame_id: str = Field(primary_key=True, max_length=128)
    model_version: str = Field(primary_key=True, max_length=256)
    # [{"class", "score", "box": [x_min, y_min, x_max, y_max] relative}]
    detections: list[dict[str, Any]] = Field(sa_column=Column(JSON, nullable=False))
    metrics: dict[str, float] = Field(sa_column=Column(JSON, nullable=False))
    received_at: float = Field(index=True)


class Selection(EvaluateTable, table=True):
    """Why curate chose a frame (frames.selected): its window and priority, for slices."""

    __tablename__ = "eval_selections"

    frame_id: str = Field(primary_key=True, max_length=128)
    selection_batch: str = Field(max_length=64)
    priority: dict[str, float] = Field(sa_column=Column(JSON, nullable=False))


class Run(EvaluateTable, table=True):
    """One evaluation: its report as sent on eval.reports, and whether it was sent."""

    __tablename__ = "eval_runs"

    run_id: str = Field(primary_key=True, max_length=64)
    model_version: str = Field(max_length=256, index=True)
    created_at: float = Field(index=True)
    report: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    published: bool = False


class Flag(EvaluateTable, table=True):
    """A label-error candidate of a run, as sent on labels.flagged (with the run's report)."""

    __tablename__ = "eval_flags"

    run_id: str = Field(primary_key=True, max_length=64)
    seq: int = Field(primary_key=True)
    frame_id: str = Field(max_length=128)
    flag: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


class Outcome(EvaluateTable, table=True):
    """A frame's boxes in a run with their tp / fp / fn outcome (the FrameOutcomes proto)."""

    __tablename__ = "eval_outcomes"

    run_id: str = Field(primary_key=True, max_length=64)
    frame_id: str = Field(primary_key=True, max_length=128)
    tp: int
    fp: int
    fn: int
    errors: int
    outcomes: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
