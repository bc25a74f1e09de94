"""SQL engine: SQLite under the data dir by default, PostgreSQL (or any SQLAlchemy URL) by setting."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sqlalchemy import Engine, event
from sqlmodel import create_engine

from .migrations import Migration, migrate


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(connection, _record) -> None:
            cursor = connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")  # readers do not block the writer
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=10)


def migrate_all(engine: Engine, schemas: Mapping[str, Sequence[Migration]]) -> None:
    """Bring each component's tables to their latest version (versioned migrations; idempotent)."""
    for component, migrations in schemas.items():
        migrate(engine, component, list(migrations))
