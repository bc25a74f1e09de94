"""The query language shared by gRPC, HTTP and the CLI."""

from __future__ import annotations

import pytest

from framesift.contracts.query import Comparison, QueryError, parse
from framesift.contracts.vocabulary import Status


def test_the_documented_example_parses_into_every_part() -> None:
    query = parse('camera:cam-7 status:checked brightness<0.2 class:bicycle sort:-priority "cyclist at night"')
    assert query.cameras == ["cam-7"]
    assert query.statuses == [Status.CHECKED]
    assert query.classes == ["bicycle"]
    assert query.comparisons == [Comparison("brightness", "<", 0.2)]
    assert (query.sort, query.descending, query.text) == ("priority", True, "cyclist at night")


def test_repeated_keys_times_and_comparisons() -> None:
    query = parse(
        "camera:a camera:b reason:blurry from:2026-11-25T08:00:00Z to:1795600800 novelty>=0.5 sort:captured_at"
    )
    assert query.cameras == ["a", "b"]
    assert query.reasons == ["blurry"]
    assert query.since == 1795593600.0
    assert query.until == 1795600800.0
    assert query.comparisons == [Comparison("novelty", ">=", 0.5)]
    assert (query.sort, query.descending) == ("captured_at", False)
    assert parse("").sort == "captured_at"
    assert parse("").descending


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("status:sleeping", "unknown status"),
        ("reason:ugly", "unknown reason"),
        ("colour:red", "unknown key 'colour'"),
        ("brightness<<0.2", "'<0.2' is not a number"),
        ("brightness", "expected key:value"),
        ("from:yesterday", "ISO 8601"),
        ('"a" "b"', "only one quoted text"),
        ("camera:a%b", "not a valid camera"),
        ("sort:-1x", "sort by a field name"),
    ],
)
def test_bad_queries_say_which_term_is_wrong(text: str, message: str) -> None:
    with pytest.raises(QueryError, match=message):
        parse(text)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("brightnes<0.2", "unknown field 'brightnes'; did you mean brightness"),
        ("nosuchmetric>1", "unknown field 'nosuchmetric'; known: priority"),
        ("sort:-priorty", "unknown sort key 'priorty'; did you mean priority"),
        ("camra:gate-3", "unknown key 'camra'; did you mean camera"),
        ("status:selectd", "unknown status 'selectd'; did you mean selected"),
        ("reason:blury", "unknown reason 'blury'; did you mean blurry"),
    ],
)
def test_typos_are_refused_with_the_closest_known_names(text: str, message: str) -> None:
    with pytest.raises(QueryError) as raised:
        parse(text)
    assert message in str(raised.value)


def test_every_quality_metric_and_frame_id_are_known_fields() -> None:
    assert parse("edge_blur_px<1.5 luma_p99>=0.3 width>=640").comparisons == [
        Comparison("edge_blur_px", "<", 1.5),
        Comparison("luma_p99", ">=", 0.3),
        Comparison("width", ">=", 640.0),
    ]
    assert parse("sort:frame_id").sort == "frame_id"


def test_time_comparisons_take_iso_8601_and_epoch_seconds() -> None:
    iso = parse("captured_at>2026-12-01T00:00:00Z captured_at<=2026-12-01T06:00:00+01:00")
    assert iso.comparisons == [
        Comparison("captured_at", ">", 1796083200.0),
        Comparison("captured_at", "<=", 1796101200.0),
    ]
    assert parse("captured_at>=1796083200").comparisons == [Comparison("captured_at", ">=", 1796083200.0)]
    assert parse("captured_at>2026-12-01").comparisons == [Comparison("captured_at", ">", 1796083200.0)]  # UTC


def test_messages_quote_the_term_as_written() -> None:
    with pytest.raises(QueryError) as raised:
        parse("captured_at>2026-12-01T00:00:00Zulu")
    assert "'captured_at>2026-12-01T00:00:00Zulu'" in str(raised.value)  # never lower-cased
    assert "ISO 8601" in str(raised.value)


def test_review_and_eval_outcomes_are_closed_vocabularies() -> None:
    query = parse("review:accepted review:corrected eval:fn")
    assert (query.verdicts, query.evaluation) == (["accepted", "corrected"], ["fn"])
    with pytest.raises(QueryError, match="did you mean accepted"):
        parse("review:acepted")
