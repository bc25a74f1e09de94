"""The curation read model's migrations (framesift.sql.migrations runs them)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy import Connection, Engine

from framesift.sql import migrations
from framesift.sql.migrations import Migration

COMPONENT = "curate"


def _v1_read_model(connection: Connection) -> None:
    metadata = sa.MetaData()
    sa.Table(
        "curated_frames",
        metadata,
        sa.Column("frame_id", sa.String(128), primary_key=True),
        sa.Column("camera_id", sa.String(64), nullable=False, index=True),
        sa.Column("captured_at", sa.Float, nullable=False, index=True),
        sa.Column("object_key", sa.String(512), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("status", sa.Integer, nullable=False, index=True),
        sa.Column("reasons", sa.String, nullable=False),
        sa.Column("metrics", sa.JSON, nullable=False),
        sa.Column("duplicate_of", sa.String(128)),
        sa.Column("model", sa.String(256)),
        sa.Column("point_id", sa.String(64)),
        sa.Column("detections", sa.JSON, nullable=False),
        sa.Column("classes", sa.String, nullable=False),
        sa.Column("uncertainty", sa.Float),
        sa.Column("rarity", sa.Float),
        sa.Column("novelty", sa.Float),
        sa.Column("quality", sa.Float),
        sa.Column("priority", sa.Float, index=True),
        sa.Column("window_id", sa.String(64), index=True),
        sa.Column("decision", sa.String),
        sa.Column("published", sa.Boolean, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
    )
    sa.Table(
        "selection_windows",
        metadata,
        sa.Column("window_id", sa.String(64), primary_key=True),
        sa.Column("start", sa.Float, nullable=False),
        sa.Column("end", sa.Float, nullable=False),
        sa.Column("closed", sa.Boolean, nullable=False),
        sa.Column("budget", sa.Integer, nullable=False),
        sa.Column("candidates", sa.Integer, nullable=False),
        sa.Column("selected", sa.Integer, nullable=False),
        sa.Column("camera_cap", sa.Integer, nullable=False),
    )
    sa.Table(
        "curate_clock",
        metadata,
        sa.Column("name", sa.String(32), primary_key=True),
        sa.Column("watermark", sa.Float, nullable=False),
    )
    metadata.create_all(connection)


def _v2_query_indexes(connection: Connection) -> None:
    """The orders QueryFrames pages by most: newest first per camera, and by priority per status."""
    connection.execute(
        sa.text("CREATE INDEX IF NOT EXISTS ix_curated_frames_camera_time ON curated_frames (camera_id, captured_at)")
    )
    connection.execute(
        sa.text("CREATE INDEX IF NOT EXISTS ix_curated_frames_status_priority ON curated_frames (status, priority)")
    )


def _v3_keyset_indexes(connection: Connection) -> None:
    """Indexes in QueryFrames' keyset order (sort key, then frame id), with the null sentinel the
    queries sort by, so a page is an index range scan at any depth."""
    for statement in (
        "DROP INDEX IF EXISTS ix_curated_frames_status_priority",
        "CREATE INDEX IF NOT EXISTS ix_curated_frames_status_time ON curated_frames (status, captured_at, frame_id)",
        "CREATE INDEX IF NOT EXISTS ix_curated_frames_status_priority_key "
        "ON curated_frames (status, (coalesce(priority, -1e300)), frame_id)",
        "CREATE INDEX IF NOT EXISTS ix_curated_frames_priority_key "
        "ON curated_frames ((coalesce(priority, -1e300)), frame_id)",
    ):
        connection.execute(sa.text(statement))


def _v4_detector_and_margins(connection: Connection) -> None:
    """frames.embedded says whether a detector ran, frames.checked how comfortably quality passed:
    stored per frame instead of parsed from the model name and recomputed from quality's thresholds.
    Rows from before: has_detector from the model name as it was read then; no margins (their
    quality part is 0 if their window closes after this upgrade)."""
    connection.execute(sa.text("ALTER TABLE curated_frames ADD COLUMN has_detector BOOLEAN NOT NULL DEFAULT FALSE"))
    connection.execute(sa.text("ALTER TABLE curated_frames ADD COLUMN margins JSON NOT NULL DEFAULT '{}'"))
    connection.execute(
        sa.text(
            "UPDATE curated_frames SET has_detector = TRUE "
            "WHERE model IS NOT NULL AND model <> '' AND model NOT LIKE 'descriptor/%'"
        )
    )


def _v5_failure(connection: Connection) -> None:
    """Frames a service dead-lettered show so, with the reason, instead of looking in flight."""
    connection.execute(sa.text("ALTER TABLE curated_frames ADD COLUMN failure VARCHAR"))


def _v6_evaluation(connection: Connection) -> None:
    """The latest evaluation run's outcome per frame (eval.frames): eval:fp / eval:fn queries."""
    for statement in (
        "ALTER TABLE curated_frames ADD COLUMN eval_tp INTEGER",
        "ALTER TABLE curated_frames ADD COLUMN eval_fp INTEGER",
        "ALTER TABLE curated_frames ADD COLUMN eval_fn INTEGER",
        "ALTER TABLE curated_frames ADD COLUMN eval_at FLOAT",
        "ALTER TABLE curated_frames ADD COLUMN eval_model VARCHAR(256)",
    ):
        connection.execute(sa.text(statement))


def _v7_review_verdict(connection: Connection) -> None:
    """The review's verdict on a labelled frame (labels.completed): review: queries and facets."""
    connection.execute(sa.text("ALTER TABLE curated_frames ADD COLUMN review_verdict VARCHAR(16)"))


def _v8_part_sort_indexes(connection: Connection) -> None:
    """Sorting by a priority part, highest first (the UI's sort menu), as an index walk: a page of
    `class:bicycle sort:-novelty` stops after its 60 rows instead of sorting every match."""
    for part in ("uncertainty", "rarity", "novelty", "quality"):
        connection.execute(
            sa.text(
                f"CREATE INDEX IF NOT EXISTS ix_curated_frames_{part}_key "
                f"ON curated_frames ((coalesce({part}, -1e300)), frame_id)"
            )
        )


MIGRATIONS: list[Migration] = [
    Migration(1, "curation read model, selection windows, watermark", _v1_read_model),
    Migration(2, "composite indexes for camera/time and status/priority queries", _v2_query_indexes),
    Migration(
        3,
        "keyset indexes: status/time and (status,) priority with its null sentinel, then frame id",
        _v3_keyset_indexes,
    ),
    Migration(4, "has_detector and quality's pass margins per frame", _v4_detector_and_margins),
    Migration(5, "failure: the service that dead-lettered the frame, and why", _v5_failure),
    Migration(6, "the latest evaluation run's tp / fp / fn per frame", _v6_evaluation),
    Migration(7, "the review verdict of a labelled frame", _v7_review_verdict),
    Migration(8, "keyset indexes for sorting by each priority part, highest first", _v8_part_sort_indexes),
]


def migrate(engine: Engine) -> int:
    return migrations.migrate(engine, COMPONENT, MIGRATIONS)


def current_version(engine: Engine) -> int:
    return migrations.current_version(engine, COMPONENT)
