"""The evaluate service as HTTP JSON: run an evaluation, read reports, compare two model
versions. Errors are RFC 9457 problems with the codes in errors.py."""

from __future__ import annotations

from fastapi import APIRouter, Header
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from framesift.platform.index import router_endpoints
from framesift.platform.jsonform import as_json
from framesift.platform.problems import problem_for

from .api import EvaluateApi
from .errors import classify


class RunBody(BaseModel):
    model_version: str = Field(max_length=256)
    slices: list[str] = Field(default_factory=list, max_length=8)


class CompareBody(BaseModel):
    model_a: str = Field(max_length=256)
    model_b: str = Field(max_length=256)
    slices: list[str] = Field(default_factory=list, max_length=8)


async def _answer(call, *, status: int = 200) -> JSONResponse:
    try:
        result = await call
    except Exception as exc:
        raise problem_for(exc, classify(exc)) from exc
    return JSONResponse(as_json(result), status_code=status)


def http_router(api: EvaluateApi) -> APIRouter:
    router = APIRouter(prefix="/v1/evaluations", tags=["evaluations"])

    @router.get("")
    async def endpoints() -> dict:
        """The evaluation API's endpoints."""
        return router_endpoints(router, "framesift evaluate")

    @router.post("/runs")
    async def run(body: RunBody, authorization: str | None = Header(default=None, alias="authorization")):
        """Evaluate a model version on the evaluation split now (operator token); also sent on eval.reports."""
        return await _answer(api.run(authorization, body.model_version, body.slices), status=201)

    @router.get("/runs")
    async def reports(model_version: str = "", limit: int = 20):
        """Stored reports, newest first."""
        return await _answer(api.reports(model_version, limit))

    @router.get("/runs/{run_id}")
    async def report(run_id: str):
        return await _answer(api.report(run_id))

    @router.get("/runs/{run_id}/frames")
    async def run_frames(run_id: str, outcome: str = "", limit: int = 100):
        """The run's frames with tp / fp / fn counts, most errors first (outcome=fp or fn: only those)."""
        return await _answer(api.run_frames(run_id, outcome, limit))

    @router.get("/runs/{run_id}/frames/{frame_id}")
    async def frame_outcomes(run_id: str, frame_id: str):
        """One frame's boxes (label and detection) with their outcome at IoU 0.5."""
        return await _answer(api.frame_outcomes(run_id, frame_id))

    @router.get("/runs/{run_id}/label-issues")
    async def label_issues(run_id: str, limit: int = 100):
        """The run's label-error candidates (overlooked, badly located, swapped), most likely wrong first."""
        return await _answer(api.label_issues(run_id, limit))

    @router.post("/compare")
    async def compare(body: CompareBody):
        """Model A minus model B on the frames both ran on, with paired bootstrap intervals."""
        return await _answer(api.compare(body.model_a, body.model_b, body.slices))

    return router
