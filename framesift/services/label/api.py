"""The label service's operations for every transport (gRPC and HTTP JSON): who is asking, then the
desk's work in a thread, then labels.completed for whatever became done.

Labellers and reviewers present their API key (Authorization: Bearer fsl_...); the ontology and
labeller accounts and exports need the operator token. Answers are the protos of labels.proto
(gRPC sends them, HTTP their canonical JSON).
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError

from framesift.bus.base import BusUnavailableError
from framesift.contracts.errors import shown
from framesift.contracts.identifiers import checked_key
from framesift.contracts.splits import SplitSettings
from framesift.platform.operators import OperatorToken
from framesift.store.base import ObjectNotFoundError, ObjectStore
from framesift.v1 import labels_pb2

from . import exports, messages, ontology_store, stats
from .completed import CompletedOutbox
from .desk import ANY_TASK, LabelDesk, LeaseError, Outcome, QueueFilter, Verdict
from .exports import ExportError, ExportFormat, ExportQuery, StoreSink
from .labellers import ForbiddenError, Identity, Labellers
from .ontology import OntologyFile, parse, read_file
from .settings import LabellingTool, LabelSettings
from .submission import InvalidSubmissionError

log = logging.getLogger(__name__)
DATASET_ID = re.compile(r"ds-[0-9a-f]{20}")


class DatasetFileNotFoundError(LookupError):
    pass


class LabelledInToolError(RuntimeError):
    """Labelling happens in the labelling tool (FRAMESIFT_LABEL__TOOL): framesift's own queue
    hands out no task, so no frame is labelled twice, in two places."""


class UnavailableError(RuntimeError):
    """The database is down: nothing was done; retrying later is safe."""


def bearer(authorization: str | None) -> str | None:
    scheme, _, token = (authorization or "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


class LabelApi:
    def __init__(
        self,
        engine: Engine,
        settings: LabelSettings,
        outbox: CompletedOutbox,
        operator: OperatorToken,
        clock: Callable[[], float],
        store: ObjectStore,
        splits: SplitSettings,
    ) -> None:
        self.engine, self.settings, self.outbox, self.operator, self.clock = engine, settings, outbox, operator, clock
        self.store, self.splits = store, splits
        self.desk = LabelDesk(engine, settings, clock)
        self.labellers = Labellers(engine, clock)

    async def _run(self, call: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        try:
            return await asyncio.to_thread(call, *args, **kwargs)
        except OperationalError as exc:
            raise UnavailableError(f"the label database is unavailable: {type(exc.orig or exc).__name__}") from exc

    async def _publish(self, task: dict[str, Any]) -> None:
        """labels.completed when the call finished the task; a bus outage leaves it to the
        outbox's sweep (the submission is stored: the caller must not be told it failed)."""
        if task["state"] != "done":
            return
        try:
            await self.outbox.publish_done(task)
        except (BusUnavailableError, OperationalError) as exc:
            log.warning("labels.completed not published yet, will retry: %s", exc)

    async def identify(self, authorization: str | None, *, reviewer: bool = False) -> Identity:
        who = await self._run(self.labellers.identify, bearer(authorization))
        if reviewer and not who.reviewer:
            raise ForbiddenError(f"{who.labeller_id} is not a reviewer")
        return who

    # -- labelling ---------------------------------------------------------------------------

    async def next_task(self, authorization: str | None, where: QueueFilter = ANY_TASK) -> labels_pb2.LabelTask | None:
        who = await self.identify(authorization)
        if self.settings.tool != LabellingTool.BUILTIN:
            where_to = self.settings.label_studio.url or "the labelling tool"
            tool = self.settings.tool.value
            raise LabelledInToolError(f"tasks are labelled in {tool} ({where_to}); reviews stay here")
        task = await self._run(self.desk.next_task, who.labeller_id, where)
        return messages.task(task) if task else None

    async def get_task(self, authorization: str | None, task_id: str) -> labels_pb2.LabelTask:
        """A labeller sees a task through its lease (or one they labelled); reviewers see any."""
        who = await self.identify(authorization)
        task = await self._run(self.desk.task, task_id)
        if not who.reviewer and who.labeller_id not in (task["lease_holder"], task["labeller"]):
            raise LeaseError(f"task {task_id} is not leased to {who.labeller_id}: take tasks with next")
        return messages.task(task)

    async def skip(self, authorization: str | None, task_id: str, reason: str = "") -> None:
        who = await self.identify(authorization)
        await self._run(self.desk.skip, who.labeller_id, task_id, reason)

    async def submit(
        self,
        authorization: str | None,
        task_id: str,
        annotations: Sequence[Mapping[str, Any]] | None,
        frame_classes: Sequence[str] = (),
        *,
        accept_prelabels: bool = False,
    ) -> labels_pb2.LabelTask:
        who = await self.identify(authorization)
        outcome: Outcome = await self._run(
            self.desk.submit, who.labeller_id, task_id, annotations, frame_classes, accept_prelabels=accept_prelabels
        )
        await self._publish(outcome.task)
        return messages.task(outcome.task, outcome.why)

    # -- review ------------------------------------------------------------------------------

    async def next_review(self, authorization: str | None) -> labels_pb2.LabelTask | None:
        who = await self.identify(authorization, reviewer=True)
        task = await self._run(self.desk.next_review, who.labeller_id)
        return messages.task(task) if task else None

    async def verdict(
        self,
        authorization: str | None,
        task_id: str,
        verdict: str,
        annotations: Sequence[Mapping[str, Any]] | None = None,
        note: str = "",
    ) -> labels_pb2.LabelTask:
        who = await self.identify(authorization, reviewer=True)
        try:
            chosen = Verdict(verdict)
        except ValueError:
            raise InvalidSubmissionError(
                "verdict", f"{verdict!r} is not one of accepted, corrected, rejected"
            ) from None
        outcome = await self._run(self.desk.verdict, who.labeller_id, task_id, chosen, annotations, note)
        await self._publish(outcome.task)
        return messages.task(outcome.task, outcome.why)

    # -- ontology, accounts, figures ---------------------------------------------------------

    async def ontology(self, version: int | None = None) -> labels_pb2.OntologyDocument | None:
        def read() -> Any:
            with self.engine.connect() as connection:
                if version is None:
                    return ontology_store.latest(connection)
                return ontology_store.version(connection, version)

        found = await self._run(read)
        return _document(found.document(), changed=False) if found else None

    async def set_ontology(
        self, authorization: str | None, document: Any, author: str = "operator"
    ) -> labels_pb2.OntologyDocument:
        self.operator.check(authorization)
        made = await self._run(self.apply_ontology, parse(document, source="the ontology body"), author)
        return _document(made, changed=made["changed"])

    def apply_ontology(self, proposed: OntologyFile, author: str) -> dict:
        with self.engine.begin() as connection:
            made, changed = ontology_store.apply(connection, proposed, author=author, now=self.clock())
        return {**made.document(), "changed": changed}

    def apply_ontology_file(self, path) -> dict:
        return self.apply_ontology(read_file(path), author=f"file {path.name}")

    async def add_labeller(self, authorization: str | None, labeller_id: str, *, reviewer: bool) -> dict:
        self.operator.check(authorization)
        key = await self._run(self.labellers.add, labeller_id, reviewer=reviewer)
        return {"labeller_id": labeller_id, "reviewer": reviewer, "api_key": key}

    # -- exports -----------------------------------------------------------------------------

    async def export(
        self, authorization: str | None, kind: str, query: str, *, with_images: bool
    ) -> labels_pb2.DatasetVersion:
        """A dataset version written under exports/<dataset id>/ in the object store."""
        self.operator.check(authorization)
        try:
            chosen = ExportFormat(kind)
        except ValueError:
            raise ExportError(f"format {kind!r}: one of coco, yolo, label-studio") from None
        parsed = ExportQuery.parse(query.split())

        def sink(dataset_id: str) -> tuple[StoreSink, str]:
            target = StoreSink(self.store, dataset_id)
            return target, f"{target.prefix}/"

        try:
            made = await exports.export_dataset(
                self.engine, self.store, self.splits, chosen, parsed, sink, with_images=with_images, now=self.clock()
            )
        except OperationalError as exc:
            raise UnavailableError(f"the label database is unavailable: {type(exc.orig or exc).__name__}") from exc
        return messages.dataset(made.manifest, made.manifest_sha256, f"{exports.EXPORTS_PREFIX}/{made.dataset_id}/")

    async def datasets(self, authorization: str | None) -> dict:
        self.operator.check(authorization)

        def read() -> list[dict]:
            with self.engine.connect() as connection:
                return exports.datasets(connection)

        return {"datasets": await self._run(read)}

    async def dataset_file(self, authorization: str | None, dataset_id: str, path: str) -> bytes:
        self.operator.check(authorization)
        if not DATASET_ID.fullmatch(dataset_id):
            raise ExportError(f"invalid dataset id {shown(dataset_id)}")
        try:
            key = checked_key(f"{exports.EXPORTS_PREFIX}/{dataset_id}/{path}")
        except ValueError:
            raise ExportError(f"invalid path {shown(path)}") from None
        try:
            return await self.store.get(key)
        except ObjectNotFoundError:
            raise DatasetFileNotFoundError(f"no file {shown(path)} in dataset {dataset_id}") from None

    async def stats(self, since: float = 0.0) -> labels_pb2.LabelStats:
        def read() -> dict:
            with self.engine.connect() as connection:
                return stats.summary(connection, since)

        return messages.stats(await self._run(read))


def _document(document: dict[str, Any], *, changed: bool) -> labels_pb2.OntologyDocument:
    body = {"classes": document["classes"]}
    return labels_pb2.OntologyDocument(json=json.dumps(body), version=document["version"], changed=changed)
