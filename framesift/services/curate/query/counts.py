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


def frame_counts(connection: Connection, query: Query, frame_ids: list[str] | None = None) -> curation_pb2.FrameCounts:
    matching = conditions(query, frame_ids=frame_ids)
    total = connection.execute(sa.select(sa.func.count()).select_from(FRAMES).where(*matching)).scalar_one()

    def but(key: str) -> list[sa.ColumnElement]:
        """The query's conditions without its own terms of `key`."""
        return conditions(dataclasses.replace(query, **{FACET_FIELDS[key]: []}), frame_ids=frame_ids)

    statuses = _grouped(connection, FRAMES.c.status, but("status"))
    counts = {
        "status": {Status(value).label: n for value, n in statuses.items()},
        "reason": _split(_grouped(connection, FRAMES.c.reasons, but("reason"))),
        "camera": _grouped(connection, FRAMES.c.camera_id, but("camera")),
        "class": _split(_grouped(connection, FRAMES.c.classes, but("class"))),
        "review": _grouped(connection, FRAMES.c.review_verdict, but("review")),
        "eval": _evaluation(connection, but("eval")),
    }
    return curation_pb2.FrameCounts(
        total=total,
        facets=[curation_pb2.Facet(key=key, counts=counts[key]) for key in FACET_KEYS],
    )


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
    sums = (sa.func.coalesce(sa.func.sum(sa.case((test, 1), else_=0)), 0) for test in EVAL_OUTCOMES.values())
    statement = sa.select(*(total.label(name) for total, name in zip(sums, EVAL_OUTCOMES, strict=True))).where(*where)
    row = connection.execute(statement).one()
    return {name: int(value) for name, value in row._mapping.items() if value}
