"""CountFrames: the total and the facets of a query, on SQLite and PostgreSQL, checked against
the frames the same query pages through: a value's count is what the query finds with `key:value`
as that key's only term (facets are disjunctive: a key given twice means either)."""

from __future__ import annotations

import re

import sqlalchemy as sa

from framesift.app.registry import create_schema
from framesift.contracts.query import parse
from framesift.contracts.vocabulary import Status
from framesift.services.curate.query import sql
from framesift.services.curate.query.counts import FACET_KEYS, frame_counts
from framesift.services.curate.tables import CuratedFrame

FRAMES = CuratedFrame.__table__


def _rows() -> list[dict]:
    rows = []
    for i in range(40):
        rejected = i % 4 == 0
        rows.append(
            {
                "frame_id": f"f-{i:03d}",
                "camera_id": f"cam-{i % 3}",
                "captured_at": 1_000.0 + i,
                "status": int(Status.REJECTED if rejected else Status.SELECTED if i % 5 == 0 else Status.EMBEDDED),
                "reasons": (",blurry,dark," if i % 8 == 0 else ",blurry,") if rejected else "",
                "metrics": {"brightness": i / 40},
                "detections": [],
                "margins": {},
                "classes": ",car,person," if i % 2 else (",car," if i % 3 else ""),
                "review_verdict": ("accepted", "corrected", None)[i % 3],
                "eval_tp": i % 2 if i < 20 else None,
                "eval_fp": (i % 3 == 0) * 1 if i < 20 else None,
                "eval_fn": (i % 4 == 1) * 2 if i < 20 else None,
                "eval_model": "det/1" if i < 20 else None,
            }
        )
    return rows


def _matching(connection, text: str) -> int:
    statement = sql.page(parse(text), page_size=1000, page_token="")
    return len(connection.execute(statement).all())


def _without_key(text: str, key: str) -> str:
    return re.sub(rf"(^|\s){key}:\S+", "", text).strip()


def test_counts_match_what_each_term_finds(database) -> None:
    engine = sa.create_engine(database())
    create_schema(engine, ["curate"])
    with engine.begin() as connection:
        connection.execute(FRAMES.insert(), _rows())
    try:
        with engine.connect() as connection:
            for base in ("", "camera:cam-1", "brightness<0.5 class:car", "status:rejected reason:dark camera:cam-0"):
                counts = frame_counts(connection, parse(base))
                assert counts.total == _matching(connection, base)
                assert [facet.key for facet in counts.facets] == list(FACET_KEYS)
                for facet in counts.facets:
                    assert facet.counts or base, facet.key  # every facet has values in this data
                    for value, count in facet.counts.items():
                        alone = f"{_without_key(base, facet.key)} {facet.key}:{value}"
                        assert count == _matching(connection, alone), (base, facet.key, value)
                by = {facet.key: dict(facet.counts) for facet in counts.facets}
                if "status:" not in base:
                    assert sum(by["status"].values()) == counts.total

            everything = {f.key: dict(f.counts) for f in frame_counts(connection, parse("")).facets}
            assert everything["reason"] == {"blurry": 10, "dark": 5}  # a frame with two reasons counts twice
            assert everything["class"] == {"car": 33, "person": 20}
            assert everything["eval"] == {"fp": 7, "fn": 5, "ok": 9}  # frame 9 has both
            assert everything["review"] == {"accepted": 14, "corrected": 13}
    finally:
        engine.dispose()


def test_rejections_by_day_bucket_by_utc_capture_day(database) -> None:
    """Days split at UTC midnight on both dialects (PostgreSQL's CAST rounds; SQLite has no floor)."""
    import sqlalchemy as sa

    from framesift.app.registry import create_schema
    from framesift.contracts.vocabulary import Status
    from framesift.services.curate.queries import rejections_by_day
    from framesift.services.curate.tables import CuratedFrame

    engine = sa.create_engine(database())
    create_schema(engine, ["curate"])
    midnight = 1_796_601_600.0  # 2026-12-07T00:00:00Z
    frames = [  # (seconds from midnight, status, reasons)
        (-1.0, Status.REJECTED, ",dark,"), (-43_199.0, Status.REJECTED, ",blurry,dark,"), (-10.0, Status.SELECTED, ""),
        (0.0, Status.REJECTED, ",blurry,"), (43_201.0, Status.CHECKED, ""),
    ]  # fmt: skip
    with engine.begin() as connection:
        for i, (offset, status, reasons) in enumerate(frames):
            connection.execute(
                CuratedFrame.__table__.insert().values(
                    frame_id=f"day-{i}", camera_id="cam", captured_at=midnight + offset, object_key=f"k/{i}",
                    sha256="a" * 64, status=int(status), reasons=reasons, metrics={}, margins={}, detections=[],
                    has_detector=False, classes="", published=False, updated_at=0.0,
                )
            )  # fmt: skip
    with engine.connect() as connection:
        later, earlier = rejections_by_day(connection)
    engine.dispose()
    assert (later.day, later.frames, later.rejected, dict(later.by_reason)) == ("2026-12-07", 2, 1, {"blurry": 1})
    assert (earlier.day, earlier.frames, earlier.rejected) == ("2026-12-06", 3, 2)
    assert dict(earlier.by_reason) == {"dark": 2, "blurry": 1}
