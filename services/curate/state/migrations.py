"""Versioned schema migrations for the curation read model.

Each migration is a numbered function applied once, in order, inside a transaction; the
`schema_versions` table records what was applied. Migrations describe the schema as it was at
their version (they never import the models), so an old database always walks the same path.
A test checks that migrating from nothing gives exactly the tables the models describe.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import sqlalchemy as sa
from sqlalchemy import Connection, Engine

COMPONENT = "curate"
_LOCK_KEY = 0x66726D73  # "frms": one advisory lock for framesift's migrations


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


MIGRATIONS: list[tuple[int, str, Callable[[Connection], None]]] = [
    (1, "curation read model, selection windows, watermark", _v1_read_model),
    (2, "composite indexes for camera/time and status/priority queries", _v2_query_indexes),
    (3, "keyset indexes: status/time and (status,) priority with its null sentinel, then frame id", _v3_keyset_indexes),
]

_VERSIONS = sa.Table(
    "schema_versions",
    sa.MetaData(),
    sa.Column("component", sa.String(32), primary_key=True),
    sa.Column("version", sa.Integer, primary_key=True),
    sa.Column("description", sa.String, nullable=False),
    sa.Column("applied_at", sa.Float, nullable=False),
)


def current_version(engine: Engine) -> int:
    with engine.connect() as connection:
        if not sa.inspect(connection).has_table(_VERSIONS.name):
            return 0
        return _version(connection)


def migrate(engine: Engine) -> int:
    """Apply every migration not applied yet; returns the schema version.

    Replicas starting together are safe: on PostgreSQL each step holds an advisory lock and
    re-reads the version inside its transaction; SQLite serialises writers itself.
    """
    _VERSIONS.create(engine, checkfirst=True)
    for version, description, apply in MIGRATIONS:
        with engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                connection.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})
            if version <= _version(connection):
                continue
            apply(connection)
            connection.execute(
                _VERSIONS.insert().values(
                    component=COMPONENT, version=version, description=description, applied_at=time.time()
                )
            )
    return current_version(engine)


def _version(connection: Connection) -> int:
    found = connection.execute(
        sa.select(sa.func.max(_VERSIONS.c.version)).where(_VERSIONS.c.component == COMPONENT)
    ).scalar()
    return int(found or 0)
