"""Versioned schema migrations, one numbered list per component (ingest, quality, curate).

Each migration is applied once, in order, inside a transaction, and recorded in
`schema_versions`. A migration describes the schema as it was at its version (it never imports
the models), so an old database always walks the same path; a test checks that migrating from
nothing gives exactly the tables the models describe. Replicas starting together are safe: on
PostgreSQL each step holds an advisory lock and re-reads the version inside its transaction;
SQLite serialises writers itself.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy import Connection, Engine

_LOCK_KEY = 0x66726D73  # "frms": one advisory lock for framesift's migrations

VERSIONS = sa.Table(
    "schema_versions",
    sa.MetaData(),
    sa.Column("component", sa.String(32), primary_key=True),
    sa.Column("version", sa.Integer, primary_key=True),
    sa.Column("description", sa.String, nullable=False),
    sa.Column("applied_at", sa.Float, nullable=False),
)


@dataclass(frozen=True)
class Migration:
    version: int
    description: str
    apply: Callable[[Connection], None]


def current_version(engine: Engine, component: str) -> int:
    with engine.connect() as connection:
        if not sa.inspect(connection).has_table(VERSIONS.name):
            return 0
        return _version(connection, component)


def migrate(engine: Engine, component: str, migrations: list[Migration]) -> int:
    """Apply every migration of `component` not applied yet; returns its schema version."""
    versions = [m.version for m in migrations]
    if versions != sorted(set(versions)):
        raise ValueError(f"{component}: migration versions must increase: {versions}")
    with engine.begin() as connection:
        # Under the lock too: replicas starting together on an empty database would otherwise
        # race to create this table (PostgreSQL's CREATE TABLE IF NOT EXISTS is not atomic).
        _lock(connection)
        VERSIONS.create(connection, checkfirst=True)
    for migration in migrations:
        with engine.begin() as connection:
            _lock(connection)
            if migration.version <= _version(connection, component):
                continue
            migration.apply(connection)
            connection.execute(
                VERSIONS.insert().values(
                    component=component,
                    version=migration.version,
                    description=migration.description,
                    applied_at=time.time(),
                )
            )
    return current_version(engine, component)


def _lock(connection: Connection) -> None:
    """On PostgreSQL, one migrating process at a time (until this transaction ends); SQLite
    serialises writers itself."""
    if connection.dialect.name == "postgresql":
        connection.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})


def _version(connection: Connection, component: str) -> int:
    found = connection.execute(
        sa.select(sa.func.max(VERSIONS.c.version)).where(VERSIONS.c.component == component)
    ).scalar()
    return int(found or 0)
