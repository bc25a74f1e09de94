"""The curation read model: one row per frame, built from every event about it.

Its tables live on their own metadata, created and changed only by the versioned migrations in
migrations.py, so a deployed schema always says which version it is.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, Column
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from framesift.contracts.vocabulary import Status


class CurateTable(SQLModel, registry=registry()):
    """Base of curate's tables: a metadata of their own."""


class CuratedFrame(CurateTable, table=True):
    __tablename__ = "curated_frames"

    frame_id: str = Field(primary_key=True, max_length=128)
    camera_id: str = Field(default="", index=True, max_length=64)
    captured_at: float = Field(default=0.0, index=True)  # seconds since the epoch, UTC
    object_key: str = Field(default="", max_length=512)
    sha256: str = Field(default="", max_length=64)
    status: int = Field(default=Status.INGESTED, index=True)
    reasons: str = ""  # ",blurry,dark," (commas around each, for exact matching)
    metrics: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    duplicate_of: str | None = Field(default=None, max_length=128)
    model: str | None = Field(default=None, max_length=256)
    point_id: str | None = Field(default=None, max_length=64)
    detections: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    has_detector: bool = False  # the backend that embedded it has a detector (frames.embedded says)
    # How comfortably it passed each of quality's gates (frames.checked says; curate's quality part).
    margins: dict[str, float] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    classes: str = ""  # ",bicycle,person,"
    uncertainty: float | None = None
    rarity: float | None = None
    novelty: float | None = None
    quality: float | None = None
    priority: float | None = Field(default=None, index=True)
    window_id: str | None = Field(default=None, index=True, max_length=64)
    decision: str | None = None
    failure: str | None = None  # a service gave up on it: which and why (its dead-letter topic)
    # The latest evaluation run's outcome on this frame (eval.frames), at IoU 0.5.
    eval_tp: int | None = None
    eval_fp: int | None = None
    eval_fn: int | None = None
    eval_at: float | None = None
    eval_model: str | None = Field(default=None, max_length=256)
    review_verdict: str | None = Field(default=None, max_length=16)  # labels.completed's verdict
    published: bool = False  # frames.selected sent (the outbox flag)
    updated_at: float = 0.0  # the latest event time that changed the row


class SelectionWindow(CurateTable, table=True):
    __tablename__ = "selection_windows"

    window_id: str = Field(primary_key=True, max_length=64)
    start: float
    end: float
    closed: bool = False
    budget: int = 0
    candidates: int = 0
    selected: int = 0
    camera_cap: int = 0


class CurateClock(CurateTable, table=True):
    """The event-time watermark: the latest capture time curate has seen."""

    __tablename__ = "curate_clock"

    name: str = Field(primary_key=True, max_length=32)
    watermark: float = 0.0
