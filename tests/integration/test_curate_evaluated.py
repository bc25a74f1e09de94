"""eval.frames into curate: the frames the latest evaluation run got wrong, found with the query
language (eval:fp, eval:fn, eval:ok); an older run arriving late changes nothing."""

from __future__ import annotations

import pytest

from framesift.app.registry import build_adapters
from framesift.contracts.query import QueryError, parse
from framesift.contracts.vocabulary import timestamp
from framesift.services.curate.query.cli_table import query_rows
from framesift.v1 import evaluation_pb2
from tests.support.curation import run_pipeline, uploads
from tests.support.running import running
from tests.support.waiting import eventually


def evaluated(frame_id: str, *, fp: int, fn: int, at: float, run: str = "run-2") -> evaluation_pb2.FrameEvaluated:
    return evaluation_pb2.FrameEvaluated(
        frame_id=frame_id, run_id=run, model_version="det/2", tp=3, fp=fp, fn=fn, evaluated_at=timestamp(at)
    )


async def test_the_frames_a_model_gets_wrong_are_a_query_away(embedded_settings) -> None:
    frame_ids = await run_pipeline(embedded_settings, uploads("eval-cam", count=5))
    adapters = build_adapters(embedded_settings)
    async with running(adapters, ["curate"]):
        publisher = adapters.publisher()
        await publisher.publish(evaluated(frame_ids[0], fp=2, fn=0, at=2_000.0))
        await publisher.publish(evaluated(frame_ids[1], fp=0, fn=1, at=2_000.0))
        await publisher.publish(evaluated(frame_ids[2], fp=0, fn=0, at=2_000.0))
        await publisher.publish(evaluated(frame_ids[2], fp=5, fn=5, at=1_000.0, run="run-1"))  # older, late
        await publisher.publish(evaluated("never-seen-here", fp=1, fn=1, at=2_000.0))

        def found(text: str) -> set[str]:
            return {row["frame_id"] for row in query_rows(adapters.engine, text, 100)}

        await eventually(lambda: found("eval:ok") == {frame_ids[2]}, timeout=30, what="curate to fold eval.frames")
        assert found("eval:fp") == {frame_ids[0]}
        assert found("eval:fn") == {frame_ids[1]}
        assert found("eval:fp eval:fn") == {frame_ids[0], frame_ids[1]}  # a key twice: either
        assert found("camera:eval-cam eval:fn") == {frame_ids[1]}
    adapters.close()


def test_an_unknown_outcome_names_the_known_ones() -> None:
    assert parse("eval:FN").evaluation == ["fn"]
    with pytest.raises(QueryError, match="unknown evaluation outcome 'fq'; known: fp, fn, ok"):
        parse("eval:fq")
