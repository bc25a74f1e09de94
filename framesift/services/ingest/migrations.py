"""Ingest's schema migrations (framesift/migrations.py runs them)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy import Connection

from framesift.sql.migrations import Migration

COMPONENT = "ingest"


def _v1_cameras_and_ledger(connection: Connection) -> None:
    # checkfirst: databases made before migrations existed (by create_all) are adopted as they are.
    metadata = sa.MetaData()
    sa.Table(
        "cameras",
        metadata,
        sa.Column("camera_id", sa.String(64), primary_key=True),
        sa.Column("key_hash", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("disabled", sa.Boolean, nullable=False),
    )
    sa.Table(
        "upload_ledger",
        metadata,
        sa.Column("camera_id", sa.String(64), primary_key=True),
        sa.Column("sha256", sa.String(64), primary_key=True),
        sa.Column("frame_id", sa.String(36), nullable=False, index=True),
        sa.Column("received_at", sa.DateTime, nullable=False),
        sa.Column("published", sa.Boolean, nullable=False),
    )
    metadata.create_all(connection, checkfirst=True)


MIGRATIONS = [Migration(1, "cameras with hashed keys, the upload ledger", _v1_cameras_and_ledger)]
