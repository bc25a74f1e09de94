"""CurationService over gRPC: each call maps onto CurationApi; errors onto status codes."""

from __future__ import annotations

import grpc

from framesift.platform.grpc_calls import abort, answering
from framesift.v1 import curation_pb2, curation_pb2_grpc

from .errors import classify
from .queries import CurationApi

_answers = answering(classify)


class CurationServicer(curation_pb2_grpc.CurationServiceServicer):
    def __init__(self, api: CurationApi) -> None:
        self.api = api

    @_answers
    async def GetFrame(self, request, context):
        return await self.api.get_frame(request.frame_id)

    @_answers
    async def QueryFrames(self, request, context):
        return await self.api.query_frames(request.query, request.page_size, request.page_token)

    @_answers
    async def CountFrames(self, request, context):
        return await self.api.count_frames(request.query)

    @_answers
    async def SearchSimilar(self, request, context):
        target = request.WhichOneof("target")
        return await self.api.search_similar(
            frame_id=request.frame_id if target == "frame_id" else None,
            image=request.image if target == "image" else None,
            limit=request.limit,
            text=request.query,
        )

    @_answers
    async def FlushWindows(self, request, context):
        return await self.api.flush_windows(dict(context.invocation_metadata() or ()).get("authorization"))

    @_answers
    async def SearchText(self, request, context):
        return await self.api.search_text(request.text, request.limit, request.query)

    @_answers
    async def GetStats(self, request, context):
        return await self.api.stats()

    @_answers
    async def Explain(self, request, context):
        return await self.api.explain(request.frame_id)

    async def WatchFrames(self, request, context):
        try:
            async for frame in self.api.watch(request.query):
                yield frame
        except Exception as exc:
            await abort(context, exc, classify)


def register_grpc(servicer: CurationServicer):
    def register(server: grpc.aio.Server) -> str:
        curation_pb2_grpc.add_CurationServiceServicer_to_server(servicer, server)
        return curation_pb2.DESCRIPTOR.services_by_name["CurationService"].full_name

    return register
