"""Small SQL idioms every service's tables use the same way."""

from __future__ import annotations

from collections.abc import Iterable

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

_INSERTS = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}


def packed(names: Iterable[str]) -> str:
    """ ",a,b," (sorted, unique): a column `LIKE '%,a,%'` matches exactly."""
    unique = sorted(set(names))
    return f",{','.join(unique)}," if unique else ""


def insert_for(dialect_name: str, table: sa.Table):
    """The dialect's INSERT, which has `on_conflict_do_nothing` (PostgreSQL and SQLite)."""
    return _INSERTS[dialect_name](table)
