"""SQL engine: SQLite under the data dir by default, PostgreSQL (or any SQLAlchemy URL) by setting."""

from __future__ import annotations

from sqlalchemy import Engine, event
from sqlmodel import create_engine


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


def create_schema(engine: Engine) -> None:
    """Bring every service's tables to their latest version (versioned migrations; idempotent)."""
    from framesift.migrations import migrate
    from framesift.services_registry import SCHEMAS

    for component, migrations in SCHEMAS.items():
        migrate(engine, component, migrations)
