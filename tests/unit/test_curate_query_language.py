"""The query language shared by gRPC, HTTP and the CLI."""

from __future__ import annotations

import pytest

from framesift.contracts.vocabulary import Status
from framesift.services.curate.query.language import Comparison, QueryError, parse


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
        ("brightness<<0.2", "expected key:value"),
        ("from:yesterday", "ISO 8601"),
        ('"a" "b"', "only one quoted text"),
        ("camera:a%b", "not a valid camera"),
        ("sort:-1x", "sort by a field name"),
    ],
)
def test_bad_queries_say_which_term_is_wrong(text: str, message: str) -> None:
    with pytest.raises(QueryError, match=message):
        parse(text)
