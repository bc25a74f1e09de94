"""The evaluate service's operations for every transport (gRPC and HTTP JSON). Running an
evaluation is a write (it stores a run and sends it) and needs the operator token; reading
reports and comparing models do not. Answers are the protos of evaluation.proto."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError

from framesift.bus.base import BusUnavailableError
from framesift.platform.operators import OperatorToken
from framesift.v1 import evaluation_pb2

from . import records, runs, slices
from .runs import ReportOutbox
from .settings import EvaluateSettings

log = logging.getLogger(__name__)
MAX_SLICES = 8
MAX_MODEL_LENGTH = 256


class UnavailableError(RuntimeError):
    """The database is down: nothing was done; retrying later is safe."""


class InvalidRequestError(ValueError):
    pass


async def prune_forever(api: EvaluateApi, every_s: float = 3600.0) -> None:
    """Drop the detections of frames nobody labelled once they are older than keep_unlabelled_s."""
    while True:
        try:
            dropped = await api.drop_unlabelled()
            if dropped:
                log.info("dropped the detections of %d unlabelled frames", dropped)
        except UnavailableError as exc:
            log.warning("pruning waits for the database: %s", exc)
        await asyncio.sleep(every_s)


async def run_forever(api: EvaluateApi) -> None:
    """Evaluate each model version again as labels accumulate; a database outage waits."""
    while True:
        await asyncio.sleep(api.settings.auto_check_s)
        try:
            for made in await api.run_due():
                log.info(
                    "evaluated %s on %d frames: map %.3f", made.model_version, made.images, made.metrics.get("map", 0)
                )
        except UnavailableError as exc:
            log.warning("automatic evaluation waits for the database: %s", exc)
        except (runs.EmptySplitError, runs.UnknownModelError) as exc:  # the data moved under it: next time
            log.warning("automatic evaluation skipped: %s", exc)


class EvaluateApi:
    def __init__(
        self,
        engine: Engine,
        settings: EvaluateSettings,
        outbox: ReportOutbox,
        operator: OperatorToken,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.engine, self.settings, self.outbox, self.operator, self.clock = engine, settings, outbox, operator, clock
        self._one_run = asyncio.Semaphore(1)  # a run is CPU-bound: one at a time per replica

    async def _run(self, call: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        try:
            return await asyncio.to_thread(call, *args, **kwargs)
        except OperationalError as exc:
            raise UnavailableError(f"the evaluate database is unavailable: {type(exc.orig or exc).__name__}") from exc

    def _dimensions(self, given: Sequence[str]) -> list[str]:
        chosen = list(given) or list(self.settings.slices)
        if len(chosen) > MAX_SLICES:
            raise InvalidRequestError(f"slices: at most {MAX_SLICES} dimensions, got {len(chosen)}")
        return [slices.dimension_name(name) for name in chosen]

    @staticmethod
    def _model(name: str, field: str = "model_version") -> str:
        if not name or len(name) > MAX_MODEL_LENGTH:
            raise InvalidRequestError(f"{field}: a model version as embed reports it (name/version), required")
        return name

    async def run(
        self, authorization: str | None, model: str, dimensions: Sequence[str] = ()
    ) -> evaluation_pb2.EvaluationReport:
        self.operator.check(authorization)
        return await self._evaluate(self._model(model), self._dimensions(dimensions), "operator")

    async def drop_unlabelled(self) -> int:
        before = self.clock() - self.settings.keep_unlabelled_s

        def drop() -> int:
            with self.engine.begin() as connection:
                return records.drop_unlabelled(connection, before)

        return await self._run(drop)

    async def run_due(self) -> list[evaluation_pb2.EvaluationReport]:
        """The runs the service makes by itself (FRAMESIFT_EVALUATE__AUTO_AFTER_FRAMES)."""
        if not self.settings.auto_after_frames:
            return []
        split = self.settings.split.value
        due = await self._run(runs.due_models, self.engine, split, self.settings.auto_after_frames)
        return [await self._evaluate(model, self._dimensions(()), "auto") for model in due]

    async def _evaluate(self, model: str, chosen: list[str], who: str) -> evaluation_pb2.EvaluationReport:
        async with self._one_run:
            errors = self.settings.label_errors if self.settings.flag_label_errors else None
            made = await self._run(
                runs.evaluate_model, self.engine, model, self.settings.split.value, chosen,
                resamples=self.settings.resamples, seed=self.settings.seed, label_errors=errors,
            )  # fmt: skip
            made.report.requested_by = who
            await self._run(runs.store_run, self.engine, made, self.clock)
        try:
            await self.outbox.publish()
        except (BusUnavailableError, OperationalError) as exc:
            log.warning("eval.reports not sent yet, will retry: %s", exc)
        return made.report

    async def report(self, run_id: str) -> evaluation_pb2.EvaluationReport:
        return await self._run(runs.get_report, self.engine, self._run_id(run_id))

    async def reports(self, model: str = "", limit: int = 20) -> evaluation_pb2.ListReportsResponse:
        if len(model) > MAX_MODEL_LENGTH:
            raise InvalidRequestError(f"model_version: at most {MAX_MODEL_LENGTH} characters")
        if not 0 <= limit <= 500:
            raise InvalidRequestError("limit: 1 to 500 (0: the default, 20)")
        found = await self._run(runs.list_reports, self.engine, model or None, limit or 20)
        return evaluation_pb2.ListReportsResponse(reports=found)

    async def run_frames(
        self, run_id: str, outcome: str = "", limit: int = 100
    ) -> evaluation_pb2.ListRunFramesResponse:
        if outcome not in ("", "fp", "fn"):
            raise InvalidRequestError(f"outcome: fp, fn or empty, not {outcome[:20]!r}")
        if not 0 <= limit <= 1000:
            raise InvalidRequestError("limit: 1 to 1000 (0: the default, 100)")
        found = await self._run(runs.run_frames, self.engine, self._run_id(run_id), outcome, limit or 100)
        return evaluation_pb2.ListRunFramesResponse(frames=found)

    async def frame_outcomes(self, run_id: str, frame_id: str) -> evaluation_pb2.FrameOutcomes:
        if not frame_id or len(frame_id) > 128:
            raise InvalidRequestError("frame_id: required, at most 128 characters")
        return await self._run(runs.frame_outcomes, self.engine, self._run_id(run_id), frame_id)

    async def label_issues(self, run_id: str, limit: int = 100) -> evaluation_pb2.ListLabelIssuesResponse:
        if not 0 <= limit <= 1000:
            raise InvalidRequestError("limit: 1 to 1000 (0: the default, 100)")
        found = await self._run(runs.label_issues, self.engine, self._run_id(run_id), limit or 100)
        return evaluation_pb2.ListLabelIssuesResponse(issues=found)

    @staticmethod
    def _run_id(run_id: str) -> str:
        if not run_id or len(run_id) > 64:
            raise InvalidRequestError("run_id: required, at most 64 characters")
        return run_id

    async def compare(
        self, model_a: str, model_b: str, dimensions: Sequence[str] = ()
    ) -> evaluation_pb2.ModelComparison:
        model_a, model_b = self._model(model_a, "model_a"), self._model(model_b, "model_b")
        if model_a == model_b:
            raise InvalidRequestError("model_a and model_b are the same model version")
        chosen = self._dimensions(dimensions)
        async with self._one_run:
            return await self._run(
                runs.compare_models, self.engine, model_a, model_b, self.settings.split.value, chosen,
                resamples=self.settings.resamples, seed=self.settings.seed,
            )  # fmt: skip
