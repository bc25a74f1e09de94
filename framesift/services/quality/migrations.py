"""Quality's schema migrations (framesift/migrations.py runs them)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy import Connection

from framesift.sql.migrations import Migration

COMPONENT = "quality"


def _v1_decisions(connection: Connection) -> None:
    # checkfirst: databases made before migrations existed (by create_all) are adopted as they are.
    metadata = sa.MetaData()
    sa.Table(
        "quality_frames",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("frame_id", sa.String(64), nullable=False, unique=True),
        sa.Column("camera_id", sa.String(64), nullable=False),
        sa.Column("scope", sa.String(64), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("phashes", sa.LargeBinary, nullable=False),
        sa.Column("kept", sa.Boolean, nullable=False),
        sa.Column("event_type", sa.String(64), nullable=False),
        sa.Column("event", sa.LargeBinary, nullable=False),
        sa.Column("decided_at", sa.DateTime, nullable=False),
        sa.Index("ix_quality_frames_scope_sha256", "scope", "sha256"),
        sa.Index("ix_quality_frames_scope_kept_id", "scope", "kept", "id"),
    )
    metadata.create_all(connection, checkfirst=True)


def _v2_originals_and_sizes(connection: Connection) -> None:
    """Rejected frames are indexed for near duplicates too (their copies name them), and sizes
    are judged against each camera's. Rows from before: only kept frames were indexed. Checks
    first, like v1: a database made by create_all already has all of it."""
    columns = {column["name"] for column in sa.inspect(connection).get_columns("quality_frames")}
    if "original" not in columns:
        connection.execute(sa.text("ALTER TABLE quality_frames ADD COLUMN original BOOLEAN NOT NULL DEFAULT FALSE"))
        connection.execute(sa.text("UPDATE quality_frames SET original = kept"))
    metadata = sa.MetaData()
    frames = sa.Table("quality_frames", metadata, autoload_with=connection)
    index = sa.Index("ix_quality_frames_scope_original_id", frames.c.scope, frames.c.original, frames.c.id)
    index.create(connection, checkfirst=True)
    sa.Table(
        "quality_source_sizes",
        metadata,
        sa.Column("camera_id", sa.String(64), primary_key=True),
        sa.Column("width", sa.Integer, primary_key=True),
        sa.Column("height", sa.Integer, primary_key=True),
        sa.Column("frames", sa.Integer, nullable=False),
    )
    metadata.create_all(connection, checkfirst=True)


MIGRATIONS = [
    Migration(1, "one row per decided frame (duplicates, redelivery)", _v1_decisions),
    Migration(2, "rejected originals indexed; each camera's frame sizes", _v2_originals_and_sizes),
]
