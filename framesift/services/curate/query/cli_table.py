"""Query results as the CLI prints them: a fixed-width table, or JSON lines."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine

from . import sql
from .ids import resolve_query_ids
from .language import parse


def query_rows(engine: Engine, text: str, limit: int) -> list[dict[str, Any]]:
    """The first `limit` rows of a query (no quoted text: that needs the embedding model)."""
    query = parse(text)
    if query.text is not None:
        raise ValueError("a quoted text needs the running service: framesift query --grpc HOST:PORT")
    with engine.connect() as connection:
        query = resolve_query_ids(connection, query)
        return [dict(row) for row in connection.execute(sql.page(query, page_size=limit, page_token="")).mappings()][
            :limit
        ]


def table_line(row: dict[str, Any]) -> str:
    from framesift.contracts.vocabulary import Status

    parts = "/".join(
        "-" if row[p] is None else f"{row[p]:.2f}" for p in ("uncertainty", "rarity", "novelty", "quality")
    )
    why = row["decision"] or row["reasons"].strip(",").replace(",", " ")
    when = datetime.fromtimestamp(row["captured_at"], UTC).strftime("%Y-%m-%d %H:%M:%S")
    priority = "-" if row["priority"] is None else f"{row['priority']:.3f}"
    classes = row["classes"].strip(",").replace(",", " ") or "-"
    return (
        f"{row['frame_id'][:12]:<12} {row['camera_id'][:14]:<14} {when:<19} {Status(row['status']).label:<9} "
        f"{priority:>8} {parts:<19} {classes[:16]:<16} {why[:70]}"
    )


def header() -> str:
    return (
        f"{'frame':<12} {'camera':<14} {'captured (UTC)':<19} {'status':<9} {'priority':>8} "
        f"{'parts u/r/n/q':<19} {'classes':<16} why"
    )


def top_rows(engine: Engine, text: str, limit: int) -> list[str]:
    return [header(), *(table_line(row) for row in query_rows(engine, text, limit))]
