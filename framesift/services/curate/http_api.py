"""CurationService as HTTP JSON (for browsers): the same operations and errors as gRPC; bodies
are the protos in their canonical JSON form."""

from __future__ import annotations

import json

from fastapi import APIRouter, HTTPException, Query, UploadFile
from fastapi.responses import JSONResponse, StreamingResponse
from google.protobuf.json_format import MessageToDict

from .errors import classify
from .queries import CurationApi


def _dict(message) -> dict:
    return MessageToDict(message, preserving_proto_field_name=True)


def _http_error(exc: Exception) -> HTTPException:
    """The client's error for `exc`; re-raises what is not a client's error (a bug: a 500)."""
    error = classify(exc)
    if error is None:
        raise exc
    return HTTPException(error.http_status, str(exc))


async def _answer(call):
    try:
        return JSONResponse(_dict(await call))
    except Exception as exc:
        raise _http_error(exc) from exc


def http_router(api: CurationApi) -> APIRouter:
    router = APIRouter(prefix="/v1/curation", tags=["curation"])

    @router.get("/frames/{frame_id}")
    async def get_frame(frame_id: str):
        return await _answer(api.get_frame(frame_id))

    @router.get("/frames")
    async def query_frames(q: str = "", page_size: int = Query(0, ge=0), page_token: str = ""):
        return await _answer(api.query_frames(q, page_size, page_token))

    @router.get("/frames/{frame_id}/similar")
    async def similar_to_frame(frame_id: str, limit: int = Query(10, ge=1), q: str = ""):
        return await _answer(api.search_similar(frame_id=frame_id, image=None, limit=limit, text=q))

    @router.post("/similar")
    async def similar_to_image(image: UploadFile, limit: int = Query(10, ge=1), q: str = ""):
        return await _answer(api.search_similar(frame_id=None, image=await image.read(), limit=limit, text=q))

    @router.get("/search")
    async def search_text(text: str, limit: int = Query(10, ge=1), q: str = ""):
        return await _answer(api.search_text(text, limit, q))

    @router.get("/stats")
    async def stats():
        return await _answer(api.stats())

    @router.get("/frames/{frame_id}/explain")
    async def explain(frame_id: str):
        return await _answer(api.explain(frame_id))

    @router.get("/watch")
    async def watch(q: str = ""):
        """WatchFrames as server-sent events: one `data:` line of FrameRecord JSON per change."""
        try:
            changes = api.watch(q)  # parses now: a bad query is a 400, not a broken stream
        except Exception as exc:
            raise _http_error(exc) from exc

        async def events():
            async for record in changes:
                yield f"data: {json.dumps(_dict(record))}\n\n"

        return StreamingResponse(events(), media_type="text/event-stream")

    return router
