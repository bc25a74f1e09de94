"""Ingest's HTTP transport: single and batch uploads."""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request, Response
from pydantic import BaseModel
from starlette.datastructures import UploadFile

from framesift.contracts.identifiers import validate_camera_id
from framesift.platform.problems import Problem, problem_for

from .cameras import CameraRegistry, bearer_token
from .errors import client_error
from .handlers import FrameAccepted, FrameTooLargeError, IngestDeps, UploadFrame, ingest_frame, parse_capture_time

log = logging.getLogger(__name__)

# A batch request may carry this many maximum-size frames' worth of bytes.
BATCH_FRAMES_MAX = 64


class UploadResult(BaseModel):
    frame_id: str
    camera_id: str
    sha256: str
    object_key: str
    media_type: str
    size_bytes: int
    created: bool


class BatchItemResult(BaseModel):
    filename: str | None
    status: int
    result: UploadResult | None = None
    error: str | None = None
    detail: str | None = None


class BatchResult(BaseModel):
    accepted: int
    refused: int
    items: list[BatchItemResult]


def _public(accepted: FrameAccepted) -> UploadResult:
    return UploadResult(**{name: getattr(accepted, name) for name in UploadResult.model_fields})


def _http_error(exc: Exception) -> Problem:
    return problem_for(exc, client_error(exc))


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise FrameTooLargeError(f"frame of {declared} bytes exceeds the limit of {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise FrameTooLargeError(f"frame exceeds the limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def http_router(deps: IngestDeps, cameras: CameraRegistry) -> APIRouter:
    router = APIRouter(prefix="/v1/cameras/{camera_id}", tags=["ingest"])

    async def authenticate(camera_id: str, authorization: str | None) -> None:
        try:
            await cameras.verify_async(validate_camera_id(camera_id), bearer_token(authorization))
        except Exception as exc:
            raise _http_error(exc) from exc

    @router.post("/frames", status_code=201, response_model=UploadResult)
    async def upload_frame(
        camera_id: str,
        request: Request,
        response: Response,
        authorization: Annotated[str | None, Header()] = None,
        captured_at: Annotated[
            str | None, Query(description="ISO 8601 (no zone: UTC) or epoch seconds; default: the receive time")
        ] = None,
    ) -> UploadResult:
        await authenticate(camera_id, authorization)
        try:
            moment = parse_capture_time(captured_at) if captured_at is not None else None
            data = await _read_body(request, deps.max_upload_bytes)
            accepted = await ingest_frame(UploadFrame(camera_id, data, moment), deps)
        except Exception as exc:
            raise _http_error(exc) from exc
        if not accepted.created:
            response.status_code = 200
        return _public(accepted)

    @router.post("/frames:batch", response_model=BatchResult)
    async def upload_batch(
        camera_id: str,
        request: Request,
        authorization: Annotated[str | None, Header()] = None,
    ) -> BatchResult:
        """multipart/form-data with one or more `frames` parts; each part succeeds or fails alone."""
        await authenticate(camera_id, authorization)
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > deps.max_upload_bytes * BATCH_FRAMES_MAX:
            raise _http_error(FrameTooLargeError(f"batch of {declared} bytes is too large"))
        if not request.headers.get("content-type", "").startswith("multipart/form-data"):
            raise Problem(400, "not_multipart", "send multipart/form-data with each frame in a part named 'frames'")
        form = await request.form(max_files=BATCH_FRAMES_MAX)
        parts = form.getlist("frames")
        if not parts:
            others = sorted(set(form.keys()))
            named = f" (the request has {', '.join(map(repr, others))})" if others else ""
            raise Problem(400, "no_frames", f"no part named 'frames'{named}: send each frame as a 'frames' part")
        items: list[BatchItemResult] = []
        for part in parts:
            if not isinstance(part, UploadFile):
                items.append(BatchItemResult(filename=None, status=400, error="not_a_file"))
                continue
            try:
                data = await part.read(deps.max_upload_bytes + 1)
                accepted = await ingest_frame(UploadFrame(camera_id, data), deps)
            except Exception as exc:
                error = client_error(exc)
                if error is None:
                    raise
                items.append(
                    BatchItemResult(filename=part.filename, status=error.http_status, error=error.name, detail=str(exc))
                )
                continue
            items.append(
                BatchItemResult(
                    filename=part.filename, status=201 if accepted.created else 200, result=_public(accepted)
                )
            )
        accepted_count = sum(item.result is not None for item in items)
        return BatchResult(accepted=accepted_count, refused=len(items) - accepted_count, items=items)

    return router
