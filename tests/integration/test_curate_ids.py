"""Frame ids by unique prefix, as git takes commits: one match names it, several are an error
listing them, none is NOT_FOUND (on the read model's SQL, SQLite here)."""

from __future__ import annotations

import pytest

from framesift.app.registry import create_schema
from framesift.contracts.query import parse
from framesift.services.curate.query.ids import AmbiguousIdError, NotFoundError, frame_row, resolve, resolve_query_ids
from framesift.sql.engine import make_engine
from tests.support.curation import insert_frame

IDS = ["7b835147-2ac1-4c1e", "7b835147-2ac9-0000", "a1b2c3d4-0000", "a_b%-literal"]


@pytest.fixture
def connection(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'ids.db'}")
    create_schema(engine, ["curate"])
    with engine.begin() as connection:
        for frame_id in IDS:
            insert_frame(connection, frame_id)
    with engine.connect() as connection:
        yield connection
    engine.dispose()


def test_a_unique_prefix_names_its_frame(connection) -> None:
    assert resolve(connection, "a1b2") == "a1b2c3d4-0000"
    assert frame_row(connection, "a1b2c3d4")["frame_id"] == "a1b2c3d4-0000"
    assert frame_row(connection, "7b835147-2ac1-4c1e")["frame_id"] == "7b835147-2ac1-4c1e"  # the whole id


def test_an_ambiguous_prefix_lists_the_candidates(connection) -> None:
    with pytest.raises(AmbiguousIdError) as ambiguous:
        resolve(connection, "7b835147-2ac")
    assert "7b835147-2ac1-4c1e, 7b835147-2ac9-0000" in str(ambiguous.value)


def test_unknown_short_and_wildcard_prefixes_are_not_found(connection) -> None:
    for given in ("ffff", "7b8", "a_b_", "a%"):  # too short, no match, LIKE wildcards taken literally
        with pytest.raises(NotFoundError):
            resolve(connection, given)
    assert resolve(connection, "a_b%") == "a_b%-literal"


def test_id_terms_in_a_query_resolve_prefixes(connection) -> None:
    assert resolve_query_ids(connection, parse("id:a1b2 id:nothing-like-it")).frame_ids == [
        "a1b2c3d4-0000",
        "nothing-like-it",
    ]
    with pytest.raises(AmbiguousIdError):
        resolve_query_ids(connection, parse("id:7b835147"))
