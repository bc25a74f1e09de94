"""The evaluate service's migrations. Each step's DDL is written out, never taken from tables.py,
so a deployed schema stays what its version says."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy import Connection

from framesift.sql.migrations import Migration

COMPONENT = "evaluate"


def _v1_truth_predictions_runs(connection: Connection) -> None:
    metadata = sa.MetaData()
    sa.Table(
        "eval_truth",
        metadata,
        sa.Column("frame_id", sa.String(128), primary_key=True),
        sa.Column("camera_id", sa.String(64), nullable=False),
        sa.Column("captured_at", sa.Float, nullable=False),
        sa.Column("width", sa.Integer, nullable=False),
        sa.Column("height", sa.Integer, nullable=False),
        sa.Column("object_key", sa.String(512), nullable=False),
        sa.Column("split", sa.String(16), nullable=False, index=True),
        sa.Column("ontology_version", sa.String(16), nullable=False),
        sa.Column("annotations", sa.JSON, nullable=False),
        sa.Column("completed_at", sa.Float, nullable=False),
    )
    sa.Table(
        "eval_predictions",
        metadata,
        sa.Column("frame_id", sa.String(128), primary_key=True),
        sa.Column("model_version", sa.String(256), primary_key=True),
        sa.Column("detections", sa.JSON, nullable=False),
        sa.Column("metrics", sa.JSON, nullable=False),
        # When it arrived: frames nobody labels are dropped after FRAMESIFT_EVALUATE__KEEP_UNLABELLED_S.
        sa.Column("received_at", sa.Float, nullable=False, index=True),
    )
    sa.Table(
        "eval_selections",
        metadata,
        sa.Column("frame_id", sa.String(128), primary_key=True),
        sa.Column("selection_batch", sa.String(64), nullable=False),
        sa.Column("priority", sa.JSON, nullable=False),  # total and parts, as curate chose it
    )
    sa.Table(
        "eval_runs",
        metadata,
        sa.Column("run_id", sa.String(64), primary_key=True),
        sa.Column("model_version", sa.String(256), nullable=False, index=True),
        sa.Column("created_at", sa.Float, nullable=False, index=True),
        sa.Column("report", sa.LargeBinary, nullable=False),  # the EvaluationReport proto
        sa.Column("published", sa.Boolean, nullable=False),
    )
    sa.Table(
        "eval_flags",
        metadata,
        sa.Column("run_id", sa.String(64), primary_key=True),
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("frame_id", sa.String(128), nullable=False),
        sa.Column("flag", sa.LargeBinary, nullable=False),  # the LabelFlagged proto
    )
    sa.Table(
        "eval_outcomes",
        metadata,
        sa.Column("run_id", sa.String(64), primary_key=True),
        sa.Column("frame_id", sa.String(128), primary_key=True),
        sa.Column("tp", sa.Integer, nullable=False),
        sa.Column("fp", sa.Integer, nullable=False),
        sa.Column("fn", sa.Integer, nullable=False),
        sa.Column("errors", sa.Integer, nullable=False),  # fp + fn: the frames a UI shows first
        sa.Column("outcomes", sa.LargeBinary, nullable=False),  # the FrameOutcomes proto
        sa.Index("ix_eval_outcomes_run_errors", "run_id", "errors"),
    )
    metadata.create_all(connection)


MIGRATIONS: list[Migration] = [
    Migration(
        1,
        "truth, detections per model version, curate's choices, runs with their flags and outcomes",
        _v1_truth_predictions_runs,
    ),
]
