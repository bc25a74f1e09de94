"""LabelService over gRPC: each call maps onto LabelApi; errors onto status codes (errors.py).
The caller's identity is the `authorization` metadata (Bearer fsl_... or the operator token)."""

from __future__ import annotations

import json

import grpc

from framesift.platform.grpc_calls import answering
from framesift.v1 import labels_pb2, labels_pb2_grpc

from .api import LabelApi
from .desk import QueueFilter
from .errors import classify
from .messages import annotation_input


def _authorization(context: grpc.aio.ServicerContext) -> str | None:
    return dict(context.invocation_metadata() or ()).get("authorization")


_answers = answering(classify)


class LabelServicer(labels_pb2_grpc.LabelServiceServicer):
    def __init__(self, api: LabelApi) -> None:
        self.api = api

    @_answers
    async def NextTask(self, request, context):
        where = QueueFilter(request.camera or None, request.label_class or None, request.batch or None)
        task = await self.api.next_task(_authorization(context), where)
        return labels_pb2.NextTaskResponse(task=task) if task else labels_pb2.NextTaskResponse()

    @_answers
    async def GetTask(self, request, context):
        return await self.api.get_task(_authorization(context), request.task_id)

    @_answers
    async def SubmitTask(self, request, context):
        annotations = [annotation_input(a) for a in request.annotations]
        return await self.api.submit(_authorization(context), request.task_id, annotations, list(request.frame_classes))

    @_answers
    async def AcceptPrelabels(self, request, context):
        return await self.api.submit(_authorization(context), request.task_id, None, accept_prelabels=True)

    @_answers
    async def SkipTask(self, request, context):
        await self.api.skip(_authorization(context), request.task_id, request.reason[:500])
        return labels_pb2.SkipTaskResponse()

    @_answers
    async def NextReview(self, request, context):
        task = await self.api.next_review(_authorization(context))
        return labels_pb2.NextTaskResponse(task=task) if task else labels_pb2.NextTaskResponse()

    @_answers
    async def ReviewTask(self, request, context):
        annotations = [annotation_input(a) for a in request.annotations]
        return await self.api.verdict(
            _authorization(context), request.task_id, request.verdict, annotations, request.note[:2000]
        )

    @_answers
    async def GetOntology(self, request, context):
        found = await self.api.ontology(request.version or None)
        if found is None:
            await context.abort(grpc.StatusCode.NOT_FOUND, "no ontology yet")
        return found

    @_answers
    async def SetOntology(self, request, context):
        try:
            document = json.loads(request.json)
        except json.JSONDecodeError as exc:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"json: not valid JSON ({exc.msg})")
        return await self.api.set_ontology(_authorization(context), document)

    @_answers
    async def GetLabelStats(self, request, context):
        return await self.api.stats(request.since)

    @_answers
    async def ExportDataset(self, request, context):
        return await self.api.export(
            _authorization(context), request.format, request.query, with_images=not request.without_images
        )


def register_grpc(servicer: LabelServicer):
    def register(server: grpc.aio.Server) -> str:
        labels_pb2_grpc.add_LabelServiceServicer_to_server(servicer, server)
        return labels_pb2.DESCRIPTOR.services_by_name["LabelService"].full_name

    return register
