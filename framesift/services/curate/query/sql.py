"""A parsed query -> SQL over the read model, with keyset paging (stable under inserts, and as
fast on page 1000 as on page 1)."""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

import sqlalchemy as sa

from framesift.contracts.query import COLUMNS, Query, QueryError

from ..tables import CuratedFrame

FRAMES = CuratedFrame.__table__
# Where frames without the field sort (always last). Literals, not bound parameters, so that the
# database matches the expression indexes of migration 3 (e.g. coalesce(priority, -1e300)).
_LOW, _HIGH = -1e300, 1e300
_NOT_NULL = ("captured_at", "frame_id")
# What eval:fp / eval:fn / eval:ok mean (fp and fn may both hold).
EVAL_OUTCOMES = {
    "fp": FRAMES.c.eval_fp > 0,
    "fn": FRAMES.c.eval_fn > 0,
    "ok": sa.and_(FRAMES.c.eval_fp == 0, FRAMES.c.eval_fn == 0),
}


def field_expression(name: str) -> sa.ColumnElement:
    if name in COLUMNS:
        return FRAMES.c[name]
    if name == "frame_id":
        return FRAMES.c.frame_id
    return FRAMES.c.metrics[name].as_float()  # any quality metric


def conditions(query: Query, *, frame_ids: list[str] | None = None) -> list[sa.ColumnElement]:
    where: list[sa.ColumnElement] = []
    if query.cameras:
        where.append(FRAMES.c.camera_id.in_(query.cameras))
    if query.statuses:
        where.append(FRAMES.c.status.in_([int(s) for s in query.statuses]))
    if query.reasons:
        where.append(sa.or_(*(FRAMES.c.reasons.like(f"%,{r},%") for r in query.reasons)))
    if query.classes:
        where.append(sa.or_(*(FRAMES.c.classes.like(f"%,{c},%") for c in query.classes)))
    if query.frame_ids:
        where.append(FRAMES.c.frame_id.in_(query.frame_ids))
    if query.windows:
        where.append(FRAMES.c.window_id.in_(query.windows))
    if query.failed is not None:
        where.append(FRAMES.c.failure.is_not(None) if query.failed else FRAMES.c.failure.is_(None))
    if query.evaluation:
        where.append(sa.or_(*(EVAL_OUTCOMES[value] for value in query.evaluation)))
    if query.verdicts:
        where.append(FRAMES.c.review_verdict.in_(query.verdicts))
    if query.since is not None:
        where.append(FRAMES.c.captured_at >= query.since)
    if query.until is not None:
        where.append(FRAMES.c.captured_at < query.until)
    for comparison in query.comparisons:
        expression = field_expression(comparison.field)
        where.append(
            {
                "<": expression < comparison.value,
                "<=": expression <= comparison.value,
                ">": expression > comparison.value,
                ">=": expression >= comparison.value,
                "=": expression == comparison.value,
            }[comparison.op]
        )
    if frame_ids is not None:
        where.append(FRAMES.c.frame_id.in_(frame_ids))
    return where


def page(query: Query, *, page_size: int, page_token: str, frame_ids: list[str] | None = None) -> sa.Select:
    """One page, sorted by the query's field then frame id; fetch page_size + 1 to know if more follow."""
    key = _sort_key(query)
    tie = FRAMES.c.frame_id
    statement = sa.select(FRAMES).where(*conditions(query, frame_ids=frame_ids))
    if page_token:
        value, last_id = _read_token(page_token, query)
        # A row-value comparison: the database starts the index range right after the last row.
        after = sa.tuple_(key, tie)
        statement = statement.where(
            after < sa.tuple_(sa.literal(value), sa.literal(last_id))
            if query.descending
            else after > sa.tuple_(sa.literal(value), sa.literal(last_id))
        )
    order = (key.desc(), tie.desc()) if query.descending else (key.asc(), tie.asc())
    return statement.order_by(*order).limit(page_size + 1)


def _sort_key(query: Query) -> sa.ColumnElement:
    if query.sort in _NOT_NULL:
        return field_expression(query.sort)
    sentinel = sa.literal_column("-1e300" if query.descending else "1e300", sa.Float)
    return sa.func.coalesce(field_expression(query.sort), sentinel)


def sort_value(query: Query, row: dict[str, Any]) -> Any:
    if query.sort in _NOT_NULL:
        return row[query.sort]
    value = row[query.sort] if query.sort in COLUMNS else row["metrics"].get(query.sort)
    return (_LOW if query.descending else _HIGH) if value is None else float(value)


def next_token(query: Query, row: dict[str, Any]) -> str:
    payload = {"v": sort_value(query, row), "id": row["frame_id"], "q": _fingerprint(query)}
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")


def _read_token(token: str, query: Query) -> tuple[Any, str]:
    try:
        payload = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        value, last_id, fingerprint = payload["v"], str(payload["id"]), payload["q"]
    except (ValueError, KeyError, TypeError) as exc:
        raise QueryError("page_token is not one this service issued") from exc
    if fingerprint != _fingerprint(query):
        raise QueryError("page_token belongs to another query; start again without it")
    return value, last_id


def _fingerprint(query: Query) -> str:
    return hashlib.sha256(repr(query).encode()).hexdigest()[:16]
