"""Ingest's gRPC transport: the client-streaming upload (a camera fleet's stream of frames)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import grpc

from framesift.contracts.identifiers import validate_camera_id
from framesift.v1 import ingest_pb2, ingest_pb2_grpc

from .cameras import CameraRegistry, UnauthenticatedError, bearer_token
from .errors import client_error
from .handlers import IngestDeps, InvalidCaptureTimeError, UploadFrame, ingest_frame


class IngestServicer(ingest_pb2_grpc.IngestServiceServicer):
    def __init__(self, deps: IngestDeps, cameras: CameraRegistry) -> None:
        self._deps = deps
        self._cameras = cameras

    async def Upload(
        self, request_iterator: AsyncIterator[ingest_pb2.UploadFrameRequest], context: grpc.aio.ServicerContext
    ) -> ingest_pb2.UploadFramesResponse:
        metadata = dict(context.invocation_metadata() or ())
        api_key = bearer_token(metadata.get("authorization"))
        verified: set[str] = set()
        response = ingest_pb2.UploadFramesResponse()
        index = -1
        async for request in request_iterator:
            index += 1
            result = ingest_pb2.UploadFrameResult(index=index)
            try:
                if request.camera_id not in verified:
                    await self._cameras.verify_async(validate_camera_id(request.camera_id), api_key)
                    verified.add(request.camera_id)
                captured_at = _capture_time(request)
                accepted = await ingest_frame(UploadFrame(request.camera_id, request.data, captured_at), self._deps)
            except Exception as exc:
                error = client_error(exc)
                if error is None:
                    raise
                if isinstance(exc, UnauthenticatedError) or error.http_status in (400, 503):
                    # Not per-frame problems: the whole stream is refused, the client retries it.
                    await context.abort(error.grpc_code, f"frame {index}: {exc}")
                result.error, result.error_message = error.name, str(exc)
                response.refused += 1
            else:
                result.frame_id, result.sha256, result.object_key = (
                    accepted.frame_id,
                    accepted.sha256,
                    accepted.object_key,
                )
                result.created = accepted.created
                response.accepted += 1
            response.results.append(result)
        return response


def _capture_time(request: ingest_pb2.UploadFrameRequest) -> datetime | None:
    if not request.HasField("captured_at"):
        return None
    try:
        return request.captured_at.ToDatetime(UTC)
    except (OverflowError, ValueError) as exc:
        raise InvalidCaptureTimeError("captured_at is outside the years 1 to 9999 UTC") from exc


def register_grpc(servicer: IngestServicer):
    def register(server: grpc.aio.Server) -> str:
        ingest_pb2_grpc.add_IngestServiceServicer_to_server(servicer, server)
        return ingest_pb2.DESCRIPTOR.services_by_name["IngestService"].full_name

    return register
