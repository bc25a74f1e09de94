"""CurationService over a real gRPC channel (and the same over HTTP), on a curated dataset."""

from __future__ import annotations

import asyncio
import io
import json

import grpc
import httpx
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from framesift.app.registry import build_adapters
from framesift.bus.events import EventPublisher
from framesift.services.curate.settings import CurateSettings
from framesift.services.ingest.bootstrap import ingest_deps
from framesift.services.ingest.handlers import UploadFrame, ingest_frame
from framesift.v1 import curation_pb2, curation_pb2_grpc, labels_pb2
from tests.support.curation import run_pipeline, uploads
from tests.support.running import running
from tests.support.scenes import encode, scene
from tests.support.waiting import eventually

SELECTED = curation_pb2.FRAME_STATUS_SELECTED


@pytest.fixture
async def served(embedded_settings):
    settings = embedded_settings.model_copy(
        update={"curate": CurateSettings(window_s=1800, lateness_s=0, budget_per_window=2, budget_per_day=100)}
    )
    frame_ids = await run_pipeline(settings, uploads("grpc-cam"))
    adapters = build_adapters(settings)
    async with running(adapters, ["ingest", "quality", "embed", "curate"]) as runner:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{runner.grpc_port}") as channel:
            yield curation_pb2_grpc.CurationServiceStub(channel), runner, adapters, frame_ids
    adapters.close()


async def query(stub, text: str, size: int = 50, token: str = "") -> curation_pb2.QueryFramesResponse:
    return await stub.QueryFrames(curation_pb2.QueryFramesRequest(query=text, page_size=size, page_token=token))


async def test_get_query_page_and_stats(served) -> None:
    stub, _, _, frame_ids = served
    record = await stub.GetFrame(curation_pb2.GetFrameRequest(frame_id=frame_ids[0]))
    assert record.frame.camera_id == "grpc-cam"
    assert record.model == "descriptor/1"
    assert "brightness" in record.metrics

    selected = await query(stub, "status:selected sort:-priority")
    assert selected.frames
    priorities = [f.priority.total for f in selected.frames]
    assert priorities == sorted(priorities, reverse=True)

    pages, token = [], ""
    while True:  # page size 3 walks the whole camera exactly once, newest first
        page = await query(stub, "camera:grpc-cam", 3, token)
        pages.extend(f.frame.frame_id for f in page.frames)
        token = page.next_page_token
        if not token:
            break
    assert sorted(pages) == sorted(frame_ids)
    assert len(pages) == len(set(pages))

    dark = await query(stub, "reason:dark")
    assert [f.frame.frame_id for f in dark.frames] == [frame_ids[-2]]
    bright = await query(stub, "brightness>0.3 status:rejected")
    assert frame_ids[-2] not in [f.frame.frame_id for f in bright.frames]

    counts = await stub.CountFrames(curation_pb2.CountFramesRequest(query="camera:grpc-cam"))
    facets = {facet.key: dict(facet.counts) for facet in counts.facets}
    assert counts.total == len(frame_ids)
    assert facets["status"]["selected"] == len(selected.frames)
    assert facets["reason"]["dark"] == 1

    stats = await stub.GetStats(curation_pb2.GetStatsRequest())
    assert stats.frames_ingested == len(frame_ids)
    assert stats.rejections_by_reason["corrupt"] == 1
    assert stats.selected == len(selected.frames)
    assert stats.reduction_percent == pytest.approx(100 * 2 / len(frame_ids))
    assert stats.labelling_cost_avoided == pytest.approx((len(frame_ids) - stats.selected) * stats.cost_per_frame)
    # Over time: per capture day, and per selection window.
    days = list(stats.rejections_by_day)
    assert [d.day for d in days] == sorted({d.day for d in days}, reverse=True)
    assert sum(d.frames for d in days) == len(frame_ids)
    assert sum(d.rejected for d in days) == stats.frames_by_status["rejected"]
    assert sum(d.by_reason.get("corrupt", 0) for d in days) == 1
    assert sum(w.selected for w in stats.windows) == stats.selected
    assert all(w.candidates >= w.selected and w.end.seconds > w.start.seconds for w in stats.windows)


async def test_bad_queries_unknown_frames_and_text_search_get_clear_status_codes(served) -> None:
    stub = served[0]
    with pytest.raises(grpc.aio.AioRpcError) as bad:
        await query(stub, "status:sleeping")
    assert bad.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert "unknown status" in bad.value.details()
    with pytest.raises(grpc.aio.AioRpcError) as token:
        await query(stub, "camera:grpc-cam", 2, "not-a-token")
    assert token.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    with pytest.raises(grpc.aio.AioRpcError) as missing:
        await stub.GetFrame(curation_pb2.GetFrameRequest(frame_id="no-such-frame"))
    assert missing.value.code() is grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.aio.AioRpcError) as explain_missing:
        await stub.Explain(curation_pb2.ExplainRequest(frame_id="no-such-frame"))
    assert explain_missing.value.code() is grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.aio.AioRpcError) as text:
        await stub.SearchText(curation_pb2.SearchTextRequest(text="a cyclist at night"))
    assert text.value.code() is grpc.StatusCode.FAILED_PRECONDITION
    assert "FRAMESIFT_EMBED_BACKEND=descriptor" in text.value.details()
    with pytest.raises(grpc.aio.AioRpcError) as quoted:
        await query(stub, 'status:selected "a cyclist"')
    assert quoted.value.code() is grpc.StatusCode.FAILED_PRECONDITION


async def test_similar_frames_by_id_and_by_uploaded_image(served) -> None:
    stub, _, _, frame_ids = served
    by_id = await stub.SearchSimilar(curation_pb2.SearchSimilarRequest(frame_id=frame_ids[3], limit=5))
    assert by_id.model == "descriptor"
    assert 0 < len(by_id.hits) <= 5
    assert frame_ids[3] not in [h.record.frame.frame_id for h in by_id.hits]
    similarities = [h.similarity for h in by_id.hits]
    assert similarities == sorted(similarities, reverse=True)

    image = encode(scene(640, 360, seed=105))  # the bytes of frame 5
    uploaded = await stub.SearchSimilar(curation_pb2.SearchSimilarRequest(image=image, limit=3))
    assert uploaded.hits[0].record.frame.frame_id == frame_ids[5]
    assert uploaded.hits[0].similarity > 0.999
    filtered = await stub.SearchSimilar(
        curation_pb2.SearchSimilarRequest(image=image, limit=3, query="status:selected")
    )
    assert all(h.record.status == SELECTED for h in filtered.hits)
    with pytest.raises(grpc.aio.AioRpcError) as broken:
        await stub.SearchSimilar(curation_pb2.SearchSimilarRequest(image=b"not an image", limit=3))
    assert broken.value.code() is grpc.StatusCode.INVALID_ARGUMENT


async def test_explain_gives_parts_neighbours_and_budget(served) -> None:
    stub = served[0]
    chosen = (await query(stub, "status:selected sort:-priority")).frames
    skipped = (await query(stub, "status:skipped")).frames
    assert skipped, "windows of 3 frames with a budget of 2 leave some frames out"
    why = await stub.Explain(curation_pb2.ExplainRequest(frame_id=skipped[0].frame.frame_id))
    assert why.record.decision
    assert why.weights["novelty"] == 1.0
    assert any("no detector" in note for note in why.notes)
    assert why.budget.window_budget == 2
    assert why.budget.window_selected == 2
    assert why.budget.window_candidates >= 3
    assert len(why.neighbours) >= 1
    assert all(n.status in (SELECTED, curation_pb2.FRAME_STATUS_LABELLED) for n in why.neighbours)
    first = await stub.Explain(curation_pb2.ExplainRequest(frame_id=chosen[0].frame.frame_id))
    assert first.record.decision.startswith("chosen #")


async def test_watch_streams_changes_matching_the_filter(served) -> None:
    stub, _, adapters, _ = served
    stream = stub.WatchFrames(curation_pb2.WatchFramesRequest(query="camera:watch-cam"))
    received: list[curation_pb2.FrameRecord] = []

    async def read() -> None:
        async for record in stream:
            received.append(record)

    reader = asyncio.create_task(read())
    from framesift.services.ingest.cameras import CameraRegistry

    CameraRegistry(adapters.engine).add("watch-cam")
    deps = ingest_deps(adapters, adapters.settings.ingest)
    seed = iter(range(300, 400))

    async def a_change_arrives() -> bool:
        # The stream subscribes when the call reaches the server; send until it sees one.
        if not received:
            await ingest_frame(UploadFrame("watch-cam", encode(scene(seed=next(seed)))), deps)
        return bool(received)

    await eventually(a_change_arrives, timeout=30, what="a watched change")
    stream.cancel()
    await asyncio.gather(reader, return_exceptions=True)
    assert all(r.frame.camera_id == "watch-cam" for r in received)


async def test_health_by_service_name_and_the_same_calls_over_http_json(served) -> None:
    _, runner, _, frame_ids = served
    async with grpc.aio.insecure_channel(f"127.0.0.1:{runner.grpc_port}") as channel:
        health = health_pb2_grpc.HealthStub(channel)
        answer = await health.Check(health_pb2.HealthCheckRequest(service="framesift.v1.CurationService"))
        assert answer.status == health_pb2.HealthCheckResponse.SERVING
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{runner.http_port}") as client:
        stats = (await client.get("/v1/curation/stats")).json()
        assert int(stats["frames_ingested"]) == len(frame_ids)
        page = (await client.get("/v1/curation/frames", params={"q": "status:selected", "page_size": 1})).json()
        assert len(page["frames"]) == 1
        assert page["next_page_token"]
        bad = await client.get("/v1/curation/frames", params={"q": "brightness<<1"})
        assert bad.status_code == 400
        assert "is not a number" in bad.json()["detail"]
        assert (await client.get("/v1/curation/frames/nope")).status_code == 404
        assert (await client.get("/v1/curation/search", params={"text": "a car"})).status_code == 412
        explain = (await client.get(f"/v1/curation/frames/{frame_ids[0]}/explain")).json()
        assert explain["record"]["frame"]["frame_id"] == frame_ids[0]


async def test_watch_over_http_is_server_sent_events(served) -> None:
    _, runner, adapters, _ = served
    from framesift.services.ingest.cameras import CameraRegistry

    CameraRegistry(adapters.engine).add("sse-cam")
    deps = ingest_deps(adapters, adapters.settings.ingest)
    seed = iter(range(400, 500))
    lines: list[str] = []
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{runner.http_port}", timeout=30) as client:
        bad = await client.get("/v1/curation/watch", params={"q": "sort:-priority"})
        assert bad.status_code == 400
        async with client.stream("GET", "/v1/curation/watch", params={"q": "camera:sse-cam"}) as response:
            assert response.headers["content-type"].startswith("text/event-stream")

            async def read() -> None:
                async for line in response.aiter_lines():
                    if line.startswith("data: "):
                        lines.append(line)

            reader = asyncio.create_task(read())

            async def an_event_arrives() -> bool:
                if not lines:
                    await ingest_frame(UploadFrame("sse-cam", encode(scene(seed=next(seed)))), deps)
                return bool(lines)

            await eventually(an_event_arrives, timeout=30, what="a server-sent event")
            reader.cancel()
            await asyncio.gather(reader, return_exceptions=True)
    event = json.loads(lines[0].removeprefix("data: "))
    assert event["frame"]["camera_id"] == "sse-cam"


async def test_labels_completed_moves_a_selected_frame_to_labelled(served) -> None:
    stub, _, adapters, _ = served
    [chosen] = (await query(stub, "status:selected sort:-priority", 1)).frames
    before = await stub.GetStats(curation_pb2.GetStatsRequest())
    done = labels_pb2.LabelsCompleted(
        frame_id=chosen.frame.frame_id, camera_id=chosen.frame.camera_id, task_id="task-1", ontology_version="v1",
        verdict=labels_pb2.REVIEW_VERDICT_CORRECTED,
    )  # fmt: skip
    done.completed_at.GetCurrentTime()
    await EventPublisher(adapters.bus).publish(done)
    await EventPublisher(adapters.bus).publish(done)  # redelivered: no change the second time

    async def labelled() -> bool:
        record = await stub.GetFrame(curation_pb2.GetFrameRequest(frame_id=chosen.frame.frame_id))
        return record.status == curation_pb2.FRAME_STATUS_LABELLED

    await eventually(labelled, timeout=20, what="the frame to be labelled")
    after = await stub.GetStats(curation_pb2.GetStatsRequest())
    assert after.frames_by_status["labelled"] == before.frames_by_status["labelled"] + 1
    assert after.selected == before.selected  # selected or labelled: what the budget bought
    corrected = await query(stub, "review:corrected")
    assert [f.frame.frame_id for f in corrected.frames] == [chosen.frame.frame_id]
    assert corrected.frames[0].review_verdict == "corrected"
    counts = await stub.CountFrames(curation_pb2.CountFramesRequest(query=""))
    assert {facet.key: dict(facet.counts) for facet in counts.facets}["review"] == {"corrected": 1}

    # Its labels deleted in the labelling tool: the frame is selected again, waiting for labels.
    withdrawn = labels_pb2.LabelsCompleted(
        frame_id=chosen.frame.frame_id, camera_id=chosen.frame.camera_id, task_id="task-1", withdrawn=True
    )
    withdrawn.completed_at.GetCurrentTime()
    await EventPublisher(adapters.bus).publish(withdrawn)

    async def selected_again() -> bool:
        record = await stub.GetFrame(curation_pb2.GetFrameRequest(frame_id=chosen.frame.frame_id))
        return record.status == curation_pb2.FRAME_STATUS_SELECTED and not record.review_verdict

    await eventually(selected_again, timeout=20, what="the frame to be selected again")
    assert not (await query(stub, "review:corrected")).frames


async def test_explain_a_frame_still_waiting_for_its_window(served) -> None:
    stub, _, adapters, _ = served
    from framesift.services.ingest.cameras import CameraRegistry

    CameraRegistry(adapters.engine).add("wait-cam")  # captured now: its window is still open
    accepted = await ingest_frame(
        UploadFrame("wait-cam", encode(scene(seed=500))), ingest_deps(adapters, adapters.settings.ingest)
    )

    async def embedded() -> bool:
        try:
            record = await stub.GetFrame(curation_pb2.GetFrameRequest(frame_id=accepted.frame_id))
        except grpc.aio.AioRpcError as error:
            # curate has not consumed frames.ingested yet: the frame is unknown until then.
            if error.code() is grpc.StatusCode.NOT_FOUND:
                return False
            raise
        return record.status == curation_pb2.FRAME_STATUS_EMBEDDED

    await eventually(embedded, timeout=30, what="the frame to be embedded")
    why = await stub.Explain(curation_pb2.ExplainRequest(frame_id=accepted.frame_id))
    assert any(note.startswith("waiting for its window w") for note in why.notes)
    assert why.budget.window.startswith("w")
    assert not why.record.decision


async def test_ids_by_unique_prefix_one_error_shape_and_numbers_as_numbers(served) -> None:
    stub, runner, _, frame_ids = served
    prefix = frame_ids[0][:12]  # what every table shows
    assert (await stub.GetFrame(curation_pb2.GetFrameRequest(frame_id=prefix))).frame.frame_id == frame_ids[0]
    assert [f.frame.frame_id for f in (await query(stub, f"id:{prefix}")).frames] == [frame_ids[0]]
    explained = await stub.Explain(curation_pb2.ExplainRequest(frame_id=prefix))
    assert explained.record.frame.frame_id == frame_ids[0]

    # limit 0 is proto3's "not given": the same default as HTTP's; a negative one is refused, by name.
    embedded = [f for f in frame_ids if (await stub.GetFrame(curation_pb2.GetFrameRequest(frame_id=f))).point_id]
    by_default = await stub.SearchSimilar(curation_pb2.SearchSimilarRequest(frame_id=embedded[0]))
    assert len(by_default.hits) == min(10, len(embedded) - 1)
    with pytest.raises(grpc.aio.AioRpcError) as negative:
        await stub.SearchSimilar(curation_pb2.SearchSimilarRequest(frame_id=embedded[0], limit=-1))
    assert negative.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert "limit must be between 1 and 1000" in negative.value.details()

    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{runner.http_port}") as client:
        assert (await client.get(f"/v1/curation/frames/{prefix}")).json()["frame"]["frame_id"] == frame_ids[0]
        similar = (await client.get(f"/v1/curation/frames/{embedded[0]}/similar")).json()
        assert len(similar["hits"]) == len(by_default.hits)

        def is_problem(answer: httpx.Response, status: int, code: str) -> dict:
            assert answer.status_code == status, answer.text
            assert answer.headers["content-type"] == "application/problem+json"
            body = answer.json()
            assert (body["status"], body["code"], body["type"]) == (status, code, f"urn:framesift:problem:{code}")
            assert body["title"]
            assert body["detail"]
            return body

        long_id = "x" * 10_000
        missing = is_problem(await client.get(f"/v1/curation/frames/{long_id}"), 404, "not_found")
        assert len(missing["detail"]) < 200  # never the whole 10 000 characters back
        is_problem(await client.get("/v1/curation/no-such-path"), 404, "not_found")
        invalid = is_problem(
            await client.get("/v1/curation/frames", params={"page_size": "many"}), 422, "invalid_request"
        )
        assert "page_size" in invalid["detail"]
        bad = is_problem(
            await client.get("/v1/curation/frames", params={"q": "brightnes<0.2"}), 400, "invalid_argument"
        )
        assert "did you mean brightness" in bad["detail"]
        is_problem(await client.get("/v1/curation/search", params={"text": "a car"}), 412, "text_search_unavailable")
        text_file = await client.post("/v1/curation/similar", files={"image": ("notes.txt", b"not an image at all")})
        upload = is_problem(text_file, 400, "invalid_argument")
        assert "does not decode" in upload["detail"]
        assert "0x" not in upload["detail"]
        assert "BytesIO" not in upload["detail"]  # no internal repr in a message

        stats = (await client.get("/v1/curation/stats")).json()
        assert stats["frames_ingested"] == len(frame_ids)  # a JSON number, not the string "14"
        assert all(isinstance(n, int) for n in stats["rejections_by_reason"].values())


async def test_pages_to_look_at_offline_docs_and_frame_images(served) -> None:
    _, runner, adapters, frame_ids = served
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{runner.http_port}") as client:
        index = await client.get("/api")
        assert index.status_code == 200
        assert "text/html" in index.headers["content-type"]
        for path in ("/v1/curation/frames", "/v1/curation/stats", "/v1/cameras/{camera_id}/frames", "/docs"):
            assert path in index.text
        api = (await client.get("/v1/curation")).json()
        assert {"methods": ["GET"], "path": "/v1/curation/frames/{frame_id}/thumbnail"} in api["endpoints"]

        docs = await client.get("/docs")
        assert docs.status_code == 200
        assert "cdn" not in docs.text.lower()  # nothing fetched from a CDN: it works offline
        script = next(part.split('"')[1] for part in docs.text.split("src=") if "swagger-ui-bundle.js" in part)
        assert (await client.get(script)).status_code == 200

        object_key = (await client.get(f"/v1/curation/frames/{frame_ids[0]}")).json()["frame"]["object_key"]
        stored = await adapters.store.get(object_key)
        image = await client.get(f"/v1/curation/frames/{frame_ids[0][:12]}/image")
        assert image.status_code == 200
        assert image.content == stored
        assert image.headers["content-type"] == "image/jpeg"
        thumbnail = await client.get(f"/v1/curation/frames/{frame_ids[0]}/thumbnail", params={"size": 128})
        assert thumbnail.status_code == 200
        from PIL import Image

        assert max(Image.open(io.BytesIO(thumbnail.content)).size) == 128
        assert "max-age" in thumbnail.headers["cache-control"]
        from framesift.services.curate.images import thumbnail_key

        assert await adapters.store.get(thumbnail_key(object_key, 128)) == thumbnail.content  # made once
        cached = await client.get(
            f"/v1/curation/frames/{frame_ids[0]}/thumbnail",
            params={"size": 128},
            headers={"If-None-Match": thumbnail.headers["etag"]},
        )
        assert cached.status_code == 304
        assert (
            await client.get(f"/v1/curation/frames/{frame_ids[0]}/thumbnail", params={"size": 100})
        ).status_code == 400
        assert (await client.get("/v1/curation/frames/no-such-frame/image")).status_code == 404
