"""The label service as HTTP JSON: the queue, submissions, reviews, the ontology and the figures.
Errors are RFC 9457 problems with the codes in errors.py."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Header, Response
from fastapi.responses import JSONResponse
from google.protobuf.message import Message
from pydantic import BaseModel, Field

from framesift.platform.index import router_endpoints
from framesift.platform.jsonform import as_json
from framesift.platform.problems import Problem, problem_for

from .api import LabelApi
from .desk import QueueFilter, task_id_for
from .errors import classify


class NextTask(BaseModel):
    camera: str | None = None
    label_class: str | None = Field(default=None, alias="class")
    batch: str | None = None


class Submission(BaseModel):
    annotations: list[dict[str, Any]] = []
    frame_classes: list[str] = []


class Skip(BaseModel):
    reason: str = Field(default="", max_length=500)


class VerdictBody(BaseModel):
    verdict: str
    annotations: list[dict[str, Any]] | None = None
    note: str = Field(default="", max_length=2000)


class ExportBody(BaseModel):
    format: str
    query: str = Field(default="", max_length=2000)  # camera:cam-1 class:car split:val ...
    images: bool = True


class NewLabeller(BaseModel):
    labeller_id: str
    reviewer: bool = False


async def _answer(call, *, status: int = 200):
    try:
        result = await call
    except Exception as exc:
        raise problem_for(exc, classify(exc)) from exc
    if result is None:
        return Response(status_code=204)
    return JSONResponse(as_json(result) if isinstance(result, Message) else result, status_code=status)


async def _ontology(call):
    """The ontology as JSON itself over HTTP (gRPC carries it as a JSON string)."""
    try:
        document = await call
    except Exception as exc:
        raise problem_for(exc, classify(exc)) from exc
    if document is None:
        raise Problem(404, "not_found", "no ontology yet: PUT one, or framesift label ontology set FILE")
    body = {"version": document.version, "changed": document.changed, **json.loads(document.json)}
    return JSONResponse(body)


def http_router(api: LabelApi) -> APIRouter:
    router = APIRouter(prefix="/v1/labels", tags=["labels"])
    Auth = Header(default=None, alias="authorization")

    @router.get("")
    async def endpoints() -> dict:
        """The label API's endpoints."""
        return router_endpoints(router, "framesift label")

    @router.post("/tasks/next")
    async def next_task(body: NextTask | None = None, authorization: str | None = Auth):
        """Lease the highest-priority free task (or the one you hold); 204 when the queue is empty."""
        where = body or NextTask()
        return await _answer(api.next_task(authorization, QueueFilter(where.camera, where.label_class, where.batch)))

    @router.get("/tasks/{task_id}")
    async def get_task(task_id: str, authorization: str | None = Auth):
        return await _answer(api.get_task(authorization, task_id))

    @router.get("/frames/{frame_id}/task")
    async def task_of_frame(frame_id: str, authorization: str | None = Auth):
        """The frame's task (one per frame), with its history: pre-labels, labels, review."""
        return await _answer(api.get_task(authorization, task_id_for(frame_id)))

    @router.post("/tasks/{task_id}/submit")
    async def submit(task_id: str, body: Submission, authorization: str | None = Auth):
        return await _answer(api.submit(authorization, task_id, body.annotations, body.frame_classes))

    @router.post("/tasks/{task_id}/accept-prelabels")
    async def accept_prelabels(task_id: str, authorization: str | None = Auth):
        """Submit the pre-labels as they are, in one call."""
        return await _answer(api.submit(authorization, task_id, None, accept_prelabels=True))

    @router.post("/tasks/{task_id}/skip")
    async def skip(task_id: str, body: Skip | None = None, authorization: str | None = Auth):
        return await _answer(api.skip(authorization, task_id, (body or Skip()).reason))

    @router.post("/reviews/next")
    async def next_review(authorization: str | None = Auth):
        return await _answer(api.next_review(authorization))

    @router.post("/tasks/{task_id}/review")
    async def review(task_id: str, body: VerdictBody, authorization: str | None = Auth):
        return await _answer(api.verdict(authorization, task_id, body.verdict, body.annotations, body.note))

    @router.get("/ontology")
    async def ontology(version: int | None = None):
        return await _ontology(api.ontology(version))

    @router.put("/ontology")
    async def set_ontology(body: dict[str, Any], authorization: str | None = Auth):
        """A new version when the body changes the ontology (needs the operator token)."""
        return await _ontology(api.set_ontology(authorization, body))

    @router.post("/labellers")
    async def add_labeller(body: NewLabeller, authorization: str | None = Auth):
        """Create a labeller; the answer holds their API key, shown this once (operator token)."""
        return await _answer(api.add_labeller(authorization, body.labeller_id, reviewer=body.reviewer), status=201)

    @router.post("/exports")
    async def export(body: ExportBody, authorization: str | None = Auth):
        """A dataset version (COCO, YOLO or Label Studio JSON) in the object store (operator token)."""
        return await _answer(api.export(authorization, body.format, body.query, with_images=body.images), status=201)

    @router.get("/exports")
    async def datasets(authorization: str | None = Auth):
        return await _answer(api.datasets(authorization))

    @router.get("/exports/{dataset_id}/files/{path:path}")
    async def dataset_file(dataset_id: str, path: str, authorization: str | None = Auth):
        try:
            data = await api.dataset_file(authorization, dataset_id, path)
        except Exception as exc:
            raise problem_for(exc, classify(exc)) from exc
        kind = "application/json" if path.endswith(".json") else "application/octet-stream"
        return Response(data, media_type=kind)

    @router.get("/stats")
    async def stats(since: float = 0.0):
        return await _answer(api.stats(since))

    return router
