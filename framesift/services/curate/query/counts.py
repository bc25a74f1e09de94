"""How the frames matching a query split by each facet key (what a browser's facets show).

Facets are disjunctive, as in most faceted search: a key's counts leave out the query's own terms
of that key, since a key given twice means either (`class:car class:bus`). So a value's count is
what the query finds with that value as the key's only term, and the values already chosen keep
their counts beside the others.

Each facet is one GROUP BY over the matching rows. Reasons and classes are packed strings
(",blurry,dark,"): grouping by the packed value gives one row per combination, far fewer than
frames, which are then split here, so the database never returns a row per frame.
"""

from __future__ import annotations

import dataclasses
from collections import Counter

import sqlalchemy as sa
from sqlalchemy import Connection

from framesift.contracts.query import Query
from framesift.contracts.vocabulary import Status
from framesift.v1 import curation_pb2

from ..tables import CuratedFrame
from .sql import EVAL_OUTCOMES, conditions

FRAMES = CuratedFrame.__table__
# Each facet key and the Query field that holds its terms.
FACET_FIELDS = {
    "status": "statuses",
    "reason": "reasons",
    "camera": "cameras",
    "class": "classes",
    "review": "verdicts",
    "eval": "evaluation",
}
FACET_KEYS = tuple(FACET_FIELDS)


# The columns the grouped facets count (eval is a sum of three tests instead).
GROUPED = {
    "status": FRAMES.c.status,
    "reason": FRAMES.c.reasons,
    "camera": FRAMES.c.camera_id,
    "class": FRAMES.c.classes,
    "review": FRAMES.c.review_verdict,
}


def frame_counts(connection: Connection, query: Query, frame_ids: list[str] | None = None) -> curation_pb2.FrameCounts:
    matching = conditions(query, frame_ids=frame_ids)
    # Keys the query has terms of are counted without them (their own scan each); the others
    # share the query's conditions: on PostgreSQL one scan with GROUPING SETS counts them all.
    own = [key for key, name in FACET_FIELDS.items() if getattr(query, name)]
    shared = [key for key in GROUPED if key not in own]
    if connection.dialect.name == "postgresql" and shared:
        total, raw, evaluation = _one_scan(connection, matching, shared)
    else:
        total = connection.execute(sa.select(sa.func.count()).select_from(FRAMES).where(*matching)).scalar_one()
        raw = {key: _grouped(connection, GROUPED[key], matching) for key in shared}
        evaluation = _evaluation(connection, matching)
    for key in own:
        where = conditions(dataclasses.replace(query, **{FACET_FIELDS[key]: []}), frame_ids=frame_ids)
        if key == "eval":
            evaluation = _evaluation(connection, where)
        else:
            raw[key] = _grouped(connection, GROUPED[key], where)
    counts = {
        "status": {Status(value).label: n for value, n in raw["status"].items()},
        "reason": _split(raw["reason"]),
        "camera": raw["camera"],
        "class": _split(raw["class"]),
        "review": raw["review"],
        "eval": evaluation,
    }
    return curation_pb2.FrameCounts(
        total=total,
        facets=[curation_pb2.Facet(key=key, counts=counts[key]) for key in FACET_KEYS],
    )


def _eval_sums() -> list[sa.ColumnElement]:
    return [
        sa.func.coalesce(sa.func.sum(sa.case((test, 1), else_=0)), 0).label(name)
        for name, test in EVAL_OUTCOMES.items()
    ]


def _one_scan(
    connection: Connection, where: list[sa.ColumnElement], keys: list[str]
) -> tuple[int, dict[str, dict], dict[str, int]]:
    """The total, each key's grouped counts and the eval sums in one pass (PostgreSQL; `keys`
    not empty)."""
    columns = [GROUPED[key] for key in keys]
    # GROUPING(c0 .. cn-1) sets bit n-1-i when c_i is not grouped in a row: the row of the set
    # (c_i) has every bit but that one, the row of () every bit.
    every = (1 << len(columns)) - 1
    statement = (
        sa.select(*columns, sa.func.grouping(*columns).label("g"), sa.func.count().label("n"), *_eval_sums())
        .select_from(FRAMES)
        .where(*where)
        .group_by(sa.func.grouping_sets(*(sa.tuple_(c) for c in columns), sa.text("()")))
    )
    raw: dict[str, dict] = {key: {} for key in keys}
    total, evaluation = 0, {}
    for row in connection.execute(statement):
        if row.g == every:
            total = row.n
            evaluation = _nonzero({name: row._mapping[name] for name in EVAL_OUTCOMES})
            continue
        at = len(columns) - (every ^ row.g).bit_length()  # the one column this row is grouped by
        value = row[at]
        if value not in ("", None):
            raw[keys[at]][value] = row.n
    return total, raw, evaluation


def _nonzero(sums: dict) -> dict[str, int]:
    return {name: int(value) for name, value in sums.items() if value}


def _grouped(connection: Connection, column: sa.ColumnElement, where: list[sa.ColumnElement]) -> dict:
    statement = sa.select(column, sa.func.count()).where(*where, column.is_not(None)).group_by(column)
    return {value: count for value, count in connection.execute(statement).all() if value not in ("", None)}


def _split(packed_counts: dict[str, int]) -> dict[str, int]:
    totals: Counter[str] = Counter()
    for packed, count in packed_counts.items():
        for name in filter(None, packed.split(",")):
            totals[name] += count
    return dict(totals)


def _evaluation(connection: Connection, where: list[sa.ColumnElement]) -> dict[str, int]:
    """eval:fp, eval:fn and eval:ok as the query language means them (fp and fn may overlap)."""
    row = connection.execute(sa.select(*_eval_sums()).select_from(FRAMES).where(*where)).one()
    return _nonzero(dict(row._mapping))
