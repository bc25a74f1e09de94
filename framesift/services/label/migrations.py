"""The label service's migrations (framesift.sql.migrations runs them). Each step's DDL is
written out, never taken from tables.py, so a deployed schema stays what its version says."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy import Connection, Engine

from framesift.sql import migrations
from framesift.sql.migrations import Migration

COMPONENT = "label"


def _v1_tasks_ontology_reviews(connection: Connection) -> None:
    metadata = sa.MetaData()
    sa.Table(
        "label_ontology_versions",
        metadata,
        sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("classes", sa.JSON, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("author", sa.String(128), nullable=False),
    )
    sa.Table(
        "label_tasks",
        metadata,
        sa.Column("task_id", sa.String(64), primary_key=True),
        sa.Column("frame_id", sa.String(128), nullable=False, unique=True),
        sa.Column("camera_id", sa.String(64), nullable=False, index=True),
        sa.Column("captured_at", sa.Float, nullable=False),
        sa.Column("object_key", sa.String(512), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("width", sa.Integer, nullable=False),
        sa.Column("height", sa.Integer, nullable=False),
        sa.Column("priority", sa.Float, nullable=False, index=True),
        sa.Column("selection_batch", sa.String(64), nullable=False),
        sa.Column("model", sa.String(256), nullable=False),
        sa.Column("has_detector", sa.Boolean, nullable=False),
        sa.Column("prelabels", sa.JSON, nullable=False),
        sa.Column("classes", sa.String, nullable=False),
        sa.Column("state", sa.String(16), nullable=False, index=True),
        sa.Column("lease_holder", sa.String(64)),
        sa.Column("lease_expires", sa.Float, nullable=False),
        sa.Column("leased_at", sa.Float, nullable=False),
        sa.Column("labeller", sa.String(64)),
        sa.Column("ontology_version", sa.Integer),
        sa.Column("annotations", sa.JSON, nullable=False),
        sa.Column("frame_classes", sa.JSON, nullable=False),
        sa.Column("labelling_seconds", sa.Float),
        sa.Column("submitted_at", sa.Float),
        sa.Column("qa_flags", sa.String, nullable=False),
        sa.Column("review_reason", sa.String),
        sa.Column("reviewer", sa.String(64)),
        sa.Column("verdict", sa.String(16)),
        sa.Column("review_annotations", sa.JSON),
        sa.Column("reviewed_at", sa.Float),
        sa.Column("rejections", sa.Integer, nullable=False),
        sa.Column("skips", sa.Integer, nullable=False),
        sa.Column("published", sa.Boolean, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        # The queue's order: state, then highest priority first.
        sa.Index("ix_label_tasks_state_priority", "state", "priority"),
    )
    sa.Table(
        "label_task_skips",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("task_id", sa.String(64), nullable=False, index=True),
        sa.Column("labeller", sa.String(64), nullable=False),
        sa.Column("reason", sa.String, nullable=False),
        sa.Column("at", sa.Float, nullable=False),
        sa.UniqueConstraint("task_id", "labeller"),
    )
    sa.Table(
        "label_reviews",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("task_id", sa.String(64), nullable=False, index=True),
        sa.Column("labeller", sa.String(64), nullable=False, index=True),
        sa.Column("reviewer", sa.String(64), nullable=False),
        sa.Column("camera_id", sa.String(64), nullable=False),
        sa.Column("classes", sa.String, nullable=False),
        sa.Column("reason", sa.String, nullable=False),
        sa.Column("random", sa.Boolean, nullable=False),
        sa.Column("verdict", sa.String(16), nullable=False),
        sa.Column("labeller_annotations", sa.JSON, nullable=False),
        sa.Column("at", sa.Float, nullable=False, index=True),
    )
    sa.Table(
        "labellers",
        metadata,
        sa.Column("labeller_id", sa.String(64), primary_key=True),
        sa.Column("key_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("reviewer", sa.Boolean, nullable=False),
        sa.Column("disabled", sa.Boolean, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
    )
    metadata.create_all(connection)


def _v2_datasets(connection: Connection) -> None:
    metadata = sa.MetaData()
    sa.Table(
        "label_datasets",
        metadata,
        sa.Column("dataset_id", sa.String(64), primary_key=True),
        sa.Column("manifest_sha256", sa.String(64), nullable=False),
        sa.Column("format", sa.String(16), nullable=False),
        sa.Column("query", sa.String, nullable=False),
        sa.Column("ontology_version", sa.Integer, nullable=False),
        sa.Column("frames", sa.Integer, nullable=False),
        sa.Column("annotations", sa.Integer, nullable=False),
        sa.Column("location", sa.String, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
    )
    metadata.create_all(connection)


def _v3_queue_indexes(connection: Connection) -> None:
    """The queue's order as an index (state, then priority and task id, scanned backwards), the
    labeller's history (their submissions) and the outbox's pending rows without a table scan."""
    for statement in (
        "DROP INDEX IF EXISTS ix_label_tasks_state_priority",
        "CREATE INDEX IF NOT EXISTS ix_label_tasks_queue ON label_tasks (state, priority, task_id)",
        "CREATE INDEX IF NOT EXISTS ix_label_tasks_labeller ON label_tasks (labeller, submitted_at)",
        "CREATE INDEX IF NOT EXISTS ix_label_reviews_labeller_at ON label_reviews (labeller, at)",
        # The outbox's sweep: done tasks not yet published are few; find them without a scan.
        "CREATE INDEX IF NOT EXISTS ix_label_tasks_unpublished ON label_tasks (task_id) "
        "WHERE state = 'done' AND published = false",
    ):
        connection.execute(sa.text(statement))


def _v4_stored_splits(connection: Connection) -> None:
    """Each task's split, chosen when it is made (stratified by camera and part of day), and its
    stratum, indexed to count a stratum's tasks. Tasks made before keep the hash draw (NULL here)."""
    for statement in (
        "ALTER TABLE label_tasks ADD COLUMN split VARCHAR(16)",
        "ALTER TABLE label_tasks ADD COLUMN stratum VARCHAR(96)",
        "CREATE INDEX IF NOT EXISTS ix_label_tasks_stratum ON label_tasks (stratum)",
    ):
        connection.execute(sa.text(statement))


def _v5_qa_findings(connection: Connection) -> None:
    """What each QA flag is about (the box, and in words), for the reviewer's page to mark it."""
    connection.execute(sa.text("ALTER TABLE label_tasks ADD COLUMN qa_findings JSON"))


def _v6_label_studio(connection: Connection) -> None:
    """Label Studio's project, each task's link there and the webhook inbox; and a task's pending
    withdrawal (labels deleted in the tool after labels.completed). Tolerates a create_all schema."""
    metadata = sa.MetaData()
    sa.Table(
        "label_studio_projects",
        metadata,
        sa.Column("title", sa.String(128), primary_key=True),
        sa.Column("project_id", sa.Integer, nullable=False),
        sa.Column("ontology_version", sa.Integer, nullable=False),
        sa.Column("webhook_id", sa.Integer),
        sa.Column("watermark", sa.String, nullable=False),
        sa.Column("reconciled_at", sa.Float, nullable=False),
    )
    sa.Table(
        "label_studio_links",
        metadata,
        sa.Column("task_id", sa.String(64), primary_key=True),
        sa.Column("studio_task_id", sa.Integer, nullable=False, unique=True),
        sa.Column("project_id", sa.Integer, nullable=False),
        sa.Column("pushed_at", sa.Float, nullable=False),
        sa.Column("image_expires", sa.Float, nullable=False),
        sa.Column("annotation_id", sa.Integer, index=True),
        sa.Column("annotation_updated", sa.String(40)),
        sa.Column("review_written", sa.Float),
    )
    sa.Table(
        "label_studio_inbox",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("received_at", sa.Float, nullable=False, index=True),
        sa.Column("status", sa.Integer, nullable=False),
        sa.Column("reason", sa.String, nullable=False),
        sa.Column("body", sa.Text, nullable=False),
    )
    metadata.create_all(connection)  # checkfirst: tables create_all made are kept
    if "withdrawn_at" not in {c["name"] for c in sa.inspect(connection).get_columns("label_tasks")}:
        connection.execute(sa.text("ALTER TABLE label_tasks ADD COLUMN withdrawn_at FLOAT"))
    connection.execute(  # the outbox finds pending withdrawals (few) without a scan
        sa.text(
            "CREATE INDEX IF NOT EXISTS ix_label_tasks_withdrawn ON label_tasks (task_id) "
            "WHERE withdrawn_at IS NOT NULL"
        )
    )


MIGRATIONS: list[Migration] = [
    Migration(1, "label tasks, ontology versions, skips, reviews, labellers", _v1_tasks_ontology_reviews),
    Migration(2, "exported dataset versions", _v2_datasets),
    Migration(3, "indexes: queue order, labeller history, unpublished done tasks", _v3_queue_indexes),
    Migration(4, "each task's split, stratified by camera and part of day", _v4_stored_splits),
    Migration(5, "the QA findings behind each task's flags", _v5_qa_findings),
    Migration(6, "Label Studio: project, task links, webhook inbox; withdrawn labels", _v6_label_studio),
]


def migrate(engine: Engine) -> int:
    return migrations.migrate(engine, COMPONENT, MIGRATIONS)
