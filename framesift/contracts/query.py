"""framesift's query language, shared by gRPC, HTTP and the CLI (curate's queries) and evaluate's slices.

    camera:cam-7 status:checked brightness<0.2 class:bicycle sort:-priority "cyclist at night"

Terms (all must hold; a key given twice means either value):
    camera:ID  status:NAME  reason:NAME  class:NAME  id:FRAME  window:ID  failed:true|false
    eval:fp|fn|ok                 the latest evaluation run put a false positive / a missed object
                                  on the frame, or neither
    review:not_reviewed|accepted|corrected
                                  the review's verdict on its labels
    from:TIME  to:TIME            capture time, ISO 8601 (UTC if no offset) or epoch seconds
    FIELD<N  FIELD<=N  FIELD>N  FIELD>=N  FIELD=N
                                  any quality metric (brightness, edge_blur_px, ...), a priority
                                  part (priority, uncertainty, rarity, novelty, quality) or
                                  captured_at (N: ISO 8601 or epoch seconds)
    sort:FIELD  sort:-FIELD       one of the fields above or frame_id; `-` is descending
    "free text"                   nearest to the text by CLIP (needs a text encoder)

An unknown key, field or sort key is an error naming the closest known names ("did you mean").
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from framesift.contracts.vocabulary import QUALITY_METRICS, Reason, Status

COLUMNS = ("priority", "uncertainty", "rarity", "novelty", "quality", "captured_at")
TIME_FIELDS = ("captured_at",)
FIELDS = (*COLUMNS, *QUALITY_METRICS)  # what a comparison may name
SORT_FIELDS = (*FIELDS, "frame_id")
KEYS = ("camera", "status", "reason", "class", "id", "window", "from", "to", "sort", "failed", "eval", "review")
EVAL_OUTCOMES = ("fp", "fn", "ok")
REVIEW_VERDICTS = ("not_reviewed", "accepted", "corrected")
STATUSES = {status.label: status for status in Status}
REASONS = {reason.value for reason in Reason}
_TOKEN = re.compile(r'"([^"]*)"|(\S+)')
_COMPARISON = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)(<=|>=|<|>|=)(.+)$")
_NUMBER = re.compile(r"^-?(\d+(\.\d*)?|\.\d+)(e-?\d+)?$", re.IGNORECASE)
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
    failed: bool | None = None  # failed:true: frames a service dead-lettered (failed:false: the others)
    evaluation: list[str] = field(default_factory=list)  # eval:fp / eval:fn / eval:ok
    verdicts: list[str] = field(default_factory=list)  # review:accepted ...


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
    key, sep, value = term.partition(":")
    comparison = _COMPARISON.match(term)
    # A comparison unless a key:value comes first (captured_at>2026-12-01T00:00:00Z has both).
    if comparison and (not sep or len(comparison.group(1)) < len(key)):
        name, op, raw = comparison.groups()
        field_name = _known(term, name.lower(), FIELDS, "field")
        value = _time(term, raw) if field_name in TIME_FIELDS else _number(term, raw)
        query.comparisons.append(Comparison(field_name, op, value))
        return
    if not sep or not value:
        raise QueryError(f"{term!r}: expected key:value, FIELD<number or a quoted text")
    key = _known(term, key.lower(), KEYS, "key")
    if key == "sort":
        descending = value.startswith("-")
        name = value.lstrip("-+")
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            raise QueryError(f"{term!r}: sort by a field name, e.g. sort:-priority")
        query.sort, query.descending, query.sort_given = (
            _known(term, name.lower(), SORT_FIELDS, "sort key"),
            descending,
            True,
        )
    elif key == "status":
        query.statuses.append(STATUSES[_known(term, value.lower(), STATUSES, "status")])
    elif key == "reason":
        query.reasons.append(_known(term, value.lower(), sorted(REASONS), "reason"))
    elif key == "eval":
        query.evaluation.append(_known(term, value.lower(), EVAL_OUTCOMES, "evaluation outcome"))
    elif key == "review":
        query.verdicts.append(_known(term, value.lower(), REVIEW_VERDICTS, "review verdict"))
    elif key == "failed":
        query.failed = {"true": True, "false": False}[_known(term, value.lower(), ("true", "false"), "value")]
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


def _known(term: str, name: str, known: Iterable[str], what: str) -> str:
    """`name` if it is one of `known`; else an error naming the closest known names."""
    names = list(known)
    if name in names:
        return name
    close = difflib.get_close_matches(name, names, n=3, cutoff=0.6)
    hint = f"did you mean {' or '.join(close)}?" if close else f"known: {', '.join(names)}"
    raise QueryError(f"{term!r}: unknown {what} {name!r}; {hint}")


def _number(term: str, value: str) -> float:
    if not _NUMBER.match(value):
        raise QueryError(f"{term!r}: {value!r} is not a number")
    return float(value)


def _time(term: str, value: str) -> float:
    if _NUMBER.match(value):
        return float(value)  # epoch seconds
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise QueryError(f"{term!r}: time must be ISO 8601 (2026-11-25T08:00:00Z) or epoch seconds") from exc
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()
