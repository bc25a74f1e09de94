"""EvaluationService over gRPC: each call maps onto EvaluateApi; errors onto status codes
(errors.py). Running an evaluation needs `authorization: Bearer <operator token>` metadata."""

from __future__ import annotations

import grpc

from framesift.platform.grpc_calls import answering
from framesift.v1 import evaluation_pb2, evaluation_pb2_grpc

from .api import EvaluateApi
from .errors import classify

_answers = answering(classify)


class EvaluationServicer(evaluation_pb2_grpc.EvaluationServiceServicer):
    def __init__(self, api: EvaluateApi) -> None:
        self.api = api

    @_answers
    async def RunEvaluation(self, request, context):
        authorization = dict(context.invocation_metadata() or ()).get("authorization")
        return await self.api.run(authorization, request.model_version, list(request.slices))

    @_answers
    async def GetReport(self, request, context):
        return await self.api.report(request.run_id)

    @_answers
    async def ListReports(self, request, context):
        return await self.api.reports(request.model_version, request.limit)

    @_answers
    async def ListRunFrames(self, request, context):
        return await self.api.run_frames(request.run_id, request.outcome, request.limit)

    @_answers
    async def GetFrameOutcomes(self, request, context):
        return await self.api.frame_outcomes(request.run_id, request.frame_id)

    @_answers
    async def ListLabelIssues(self, request, context):
        return await self.api.label_issues(request.run_id, request.limit)

    @_answers
    async def CompareModels(self, request, context):
        return await self.api.compare(request.model_a, request.model_b, list(request.slices))


def register_grpc(servicer: EvaluationServicer):
    def register(server: grpc.aio.Server) -> str:
        evaluation_pb2_grpc.add_EvaluationServiceServicer_to_server(servicer, server)
        return evaluation_pb2.DESCRIPTOR.services_by_name["EvaluationService"].full_name

    return register
