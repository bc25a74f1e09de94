"""Frame ids as people type them: the whole id, or a unique prefix of it (as git takes commits).

Every table shows ids cut to 12 characters; each place that takes an id (GetFrame, Explain,
SearchSimilar, the `id:` term) accepts that prefix. A prefix that several frames share is an error
listing them; one that none has is NOT_FOUND.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection

from framesift.contracts.errors import shown
from framesift.contracts.query import Query

from ..tables import CuratedFrame

FRAMES = CuratedFrame.__table__
MIN_PREFIX = 4  # shorter prefixes would name most of a database
CANDIDATES_SHOWN = 10


class NotFoundError(LookupError):
    pass


class AmbiguousIdError(ValueError):
    """A prefix shared by several frames; the message lists some of them."""


def frame_row(connection: Connection, given: str) -> dict[str, Any]:
    """The read-model row of the frame `given` names (its id or a unique prefix of it)."""
    row = connection.execute(sa.select(FRAMES).where(FRAMES.c.frame_id == given)).mappings().first()
    if row is not None:
        return dict(row)
    return dict(
        connection.execute(sa.select(FRAMES).where(FRAMES.c.frame_id == resolve(connection, given))).mappings().one()
    )


def resolve(connection: Connection, given: str) -> str:
    """The one frame id that is `given` or starts with it."""
    if len(given) >= MIN_PREFIX:
        found = list(
            connection.execute(
                sa.select(FRAMES.c.frame_id)
                .where(FRAMES.c.frame_id.startswith(given, autoescape=True))
                .order_by(FRAMES.c.frame_id)
                .limit(CANDIDATES_SHOWN + 1)
            ).scalars()
        )
        if len(found) == 1:
            return found[0]
        if found:
            more = " and more" if len(found) > CANDIDATES_SHOWN else ""
            raise AmbiguousIdError(
                f"frame id prefix {shown(given)} is ambiguous: {', '.join(found[:CANDIDATES_SHOWN])}{more}"
            )
    raise NotFoundError(f"no frame {shown(given)}")


def resolve_query_ids(connection: Connection, query: Query) -> Query:
    """`id:` terms with a unique prefix name that frame; an id no frame has stays (it matches nothing)."""
    resolved = []
    for given in query.frame_ids:
        try:
            resolved.append(resolve(connection, given))
        except NotFoundError:
            resolved.append(given)
    query.frame_ids = resolved
    return query
