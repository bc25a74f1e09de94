"""CurationService as HTTP JSON (for browsers): the same operations and errors as gRPC; bodies
are the protos in their canonical JSON form."""

from __future__ import annotations

import hashlib
import json

from fastapi import APIRouter, Header, Request, Response, UploadFile
from fastapi.responses import JSONResponse, StreamingResponse

from framesift.platform.index import router_endpoints
from framesift.platform.jsonform import as_json
from framesift.platform.problems import Problem, problem_for

from .errors import classify
from .queries import CurationApi


def _dict(message) -> dict:
    return as_json(message)


def _http_error(exc: Exception) -> Problem:
    """The client's problem for `exc`; re-raises what is not a client's error (a bug: a 500)."""
    return problem_for(exc, classify(exc))


async def _answer(call):
    try:
        return JSONResponse(_dict(await call))
    except Exception as exc:
        raise _http_error(exc) from exc


async def _image(call, request: Request) -> Response:
    try:
        image = await call
    except Exception as exc:
        raise _http_error(exc) from exc
    etag = '"' + hashlib.sha256(image.data).hexdigest()[:32] + '"'
    headers = {"ETag": etag, "Cache-Control": "private, max-age=86400, immutable"}
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    return Response(image.data, media_type=image.media_type, headers=headers)


def http_router(api: CurationApi) -> APIRouter:
    router = APIRouter(prefix="/v1/curation", tags=["curation"])

    @router.get("")
    async def endpoints() -> dict:
        """The curation API's endpoints (the same operations as the gRPC CurationService)."""
        return router_endpoints(router, "framesift.v1.CurationService")

    @router.get("/frames/{frame_id}")
    async def get_frame(frame_id: str):
        return await _answer(api.get_frame(frame_id))

    @router.get("/frames")
    async def query_frames(q: str = "", page_size: int = 0, page_token: str = ""):
        return await _answer(api.query_frames(q, page_size, page_token))

    @router.get("/counts")
    async def count_frames(q: str = ""):
        """How many frames match the query, by status, reason, camera, class, review and eval."""
        return await _answer(api.count_frames(q))

    @router.get("/frames/{frame_id}/image")
    async def frame_image(frame_id: str, request: Request):
        """The frame's image as stored (its bytes are content-addressed: cached for a day)."""
        return await _image(api.frame_image(frame_id), request)

    @router.get("/frames/{frame_id}/thumbnail")
    async def frame_thumbnail(frame_id: str, request: Request, size: int = 256):
        """A JPEG thumbnail, long side 128, 256 or 512 px (made once, then served from the store)."""
        return await _image(api.frame_image(frame_id, thumbnail=size), request)

    @router.get("/frames/{frame_id}/similar")
    async def similar_to_frame(frame_id: str, limit: int = 0, q: str = ""):
        return await _answer(api.search_similar(frame_id=frame_id, image=None, limit=limit, text=q))

    @router.post("/similar")
    async def similar_to_image(image: UploadFile, limit: int = 0, q: str = ""):
        return await _answer(api.search_similar(frame_id=None, image=await image.read(), limit=limit, text=q))

    @router.get("/search")
    async def search_text(text: str, limit: int = 0, q: str = ""):
        return await _answer(api.search_text(text, limit, q))

    @router.post("/windows:flush")
    async def flush_windows(authorization: str | None = Header(default=None)):
        """Choose from every open window now (needs the operator token as a bearer token)."""
        return await _answer(api.flush_windows(authorization))

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
