"""SQL engine: SQLite under the data dir by default, PostgreSQL (or any SQLAlchemy URL) by setting."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence

import sqlalchemy as sa
from sqlalchemy import Engine, event
from sqlalchemy.exc import SQLAlchemyError
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


async def sql_ready(engine: Engine) -> bool:
    """The database answers a trivial query (a readiness check: down means not ready, not dead)."""

    def ping() -> bool:
        with engine.connect() as connection:
            connection.execute(sa.text("SELECT 1"))
        return True

    try:
        return await asyncio.to_thread(ping)
    except SQLAlchemyError:
        return False
