"""Replicas starting together on an empty PostgreSQL database: every one migrates without an
error (today's bug: schema_versions was created before the lock, 9 of 37 starts failed)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import sqlalchemy as sa

from framesift.app.registry import create_schema, schemas_of
from framesift.sql.engine import make_engine
from tests.support.curation import fresh_postgres

STARTS = 4


def test_four_services_starting_at_once_on_an_empty_database(postgres_url) -> None:
    for _ in range(3):  # a race shows up in some runs only: try it more than once
        with fresh_postgres(postgres_url) as url:
            engines = [make_engine(url) for _ in range(STARTS)]
            try:
                with ThreadPoolExecutor(STARTS) as pool:
                    # Each "process" its own engine (its own connections), all every service's tables.
                    list(pool.map(create_schema, engines))
                with engines[0].connect() as connection:
                    applied = connection.execute(
                        sa.text("SELECT component, version FROM schema_versions ORDER BY component, version")
                    ).all()
            finally:
                for engine in engines:
                    engine.dispose()
            expected = sorted((c, m.version) for c, ms in schemas_of().items() for m in ms)
            assert [tuple(row) for row in applied] == expected  # each migration applied exactly once
