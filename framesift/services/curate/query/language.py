"""framesift's query language, shared by gRPC, HTTP and the CLI.

    camera:cam-7 status:checked brightness<0.2 class:bicycle sort:-priority "cyclist at night"

Terms (all must hold; a key given twice means either value):
    camera:ID  status:NAME  reason:NAME  class:NAME  id:FRAME  window:ID
    from:TIME  to:TIME            capture time, ISO 8601 (UTC if no offset) or epoch seconds
    FIELD<N  FIELD<=N  FIELD>N  FIELD>=N  FIELD=N
                                  any quality metric (brightness, edge_blur_px, ...), a priority
                                  part (priority, uncertainty, rarity, novelty, quality) or
                                  captured_at
    sort:FIELD  sort:-FIELD       one of the fields above or frame_id; `-` is descending
    "free text"                   nearest to the text by CLIP (needs a text encoder)
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime

from framesift.contracts.vocabulary import Status, reason_names
from framesift.v1 import frames_pb2

COLUMNS = ("priority", "uncertainty", "rarity", "novelty", "quality", "captured_at")
STATUSES = {status.label: status for status in Status}
REASONS = set(reason_names(value for value in frames_pb2.RejectReason.values() if value))
_TOKEN = re.compile(r'"([^"]*)"|(\S+)')
_COMPARISON = re.compile(r"^([a-z_][a-z0-9_]*)(<=|>=|<|>|=)(-?\d+(?:\.\d*)?(?:e-?\d+)?|-?\.\d+)$")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/ -]{0,127}$")
MAX_LENGTH = 2000


class QueryError(ValueError):
    """The query does not parse; the message says which term and why."""


@dataclass(frozen=True)
class Comparison:
    field: str  # a column in COLUMNS, or a metric name
    op: str
    value: float


@dataclass
class Query:
    cameras: list[str] = field(default_factory=list)
    statuses: list[Status] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)
    classes: list[str] = field(default_factory=list)
    frame_ids: list[str] = field(default_factory=list)
    windows: list[str] = field(default_factory=list)
    since: float | None = None
    until: float | None = None
    comparisons: list[Comparison] = field(default_factory=list)
    sort: str = "captured_at"
    descending: bool = True
    text: str | None = None
    sort_given: bool = False


def parse(text: str) -> Query:
    if len(text) > MAX_LENGTH:
        raise QueryError(f"query longer than {MAX_LENGTH} characters")
    query = Query()
    for match in _TOKEN.finditer(text):
        quoted, term = match.group(1), match.group(2)
        if quoted is not None:
            if query.text is not None:
                raise QueryError("only one quoted text per query")
            if not quoted.strip():
                raise QueryError('empty quoted text ""')
            query.text = quoted.strip()
            continue
        _term(query, term)
    return query


def _term(query: Query, term: str) -> None:
    comparison = _COMPARISON.match(term)
    if comparison:
        name, op, value = comparison.groups()
        query.comparisons.append(Comparison(name, op, float(value)))
        return
    key, sep, value = term.partition(":")
    if not sep or not value:
        raise QueryError(f"{term!r}: expected key:value, FIELD<number or a quoted text")
    key = key.lower()
    if key == "sort":
        descending = value.startswith("-")
        name = value.lstrip("-+")
        if not re.fullmatch(r"[a-z_][a-z0-9_]*", name):
            raise QueryError(f"{term!r}: sort by a field name, e.g. sort:-priority")
        query.sort, query.descending, query.sort_given = name, descending, True
    elif key == "status":
        if value.lower() not in STATUSES:
            raise QueryError(f"{term!r}: unknown status; one of {', '.join(STATUSES)}")
        query.statuses.append(STATUSES[value.lower()])
    elif key == "reason":
        if value.lower() not in REASONS:
            raise QueryError(f"{term!r}: unknown reason; one of {', '.join(sorted(REASONS))}")
        query.reasons.append(value.lower())
    elif key in ("from", "to"):
        moment = _time(term, value)
        if key == "from":
            query.since = moment
        else:
            query.until = moment
    elif key in ("camera", "class", "id", "window"):
        if not _NAME.match(value) or "," in value or "%" in value:
            raise QueryError(f"{term!r}: not a valid {key} name")
        {"camera": query.cameras, "class": query.classes, "id": query.frame_ids, "window": query.windows}[key].append(
            value
        )
    else:
        raise QueryError(f"{term!r}: unknown key {key!r} (camera, status, reason, class, id, window, from, to, sort)")


def _time(term: str, value: str) -> float:
    try:
        return float(value)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise QueryError(f"{term!r}: time must be ISO 8601 (2026-11-25T08:00:00Z) or epoch seconds") from exc
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()
