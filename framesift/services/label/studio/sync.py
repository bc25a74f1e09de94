"""Two-way sync with a Label Studio project. framesift stays the truth about tasks, verdicts
and exports; Label Studio is where the boxes are drawn.

- Out: the project's label config follows the latest ontology version; queued tasks are
  imported in batches with their pre-labels as predictions, each linked by Label Studio's id
  (a re-run imports nothing twice: tasks found in the project are linked, not imported again).
- Back: a Label Studio task's latest annotation becomes a submission (the label flow then does
  QA, review sampling and labels.completed). A webhook only says which task to look at; the
  task is read from Label Studio and applied by the same code as reconciliation, which reads
  every task changed since its watermark. Applying is idempotent: the annotation applied last
  (id and updated_at) is kept per task, so a duplicate webhook or a second pass changes nothing.
- Deleted annotations withdraw the task's labels (desk.withdraw); labels that cannot be mapped
  flag the task (`tool_unmapped`) instead of disappearing.
- Verdicts are written back to the Label Studio task (its `review` text and meta), so labellers
  see a rejection.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection, Engine
from sqlalchemy.exc import OperationalError

from framesift.bus.base import BusUnavailableError
from framesift.sql.columns import insert_for

from .. import ontology_store
from ..completed import CompletedOutbox
from ..desk import TASKS, LabelDesk, NoOntologyError, TaskState
from ..ontology import Ontology
from ..settings import LabelStudioSettings
from ..submission import InvalidSubmissionError
from ..tables import StudioLink, StudioProject
from . import signing
from .client import StudioClient, StudioRefusedError, StudioUnavailableError, studio_moment, studio_time
from .config import label_config
from .convert import TASK_KEY, returned, studio_task

log = logging.getLogger(__name__)
LINKS = StudioLink.__table__
PROJECTS = StudioProject.__table__
UNMAPPED = "tool_unmapped"  # the QA flag of a task whose Label Studio annotation could not be mapped
WEBHOOK_ACTIONS = ("ANNOTATION_CREATED", "ANNOTATIONS_CREATED", "ANNOTATION_UPDATED", "ANNOTATIONS_DELETED")


class UnknownStudioTaskError(LookupError):
    """A Label Studio task (or annotation) framesift did not create or link."""


# What applying Label Studio's state of some tasks did: how many tasks had each outcome
# (applied, unchanged, withdrawn, flagged, foreign).
Applied = Counter[str]


def labeller_of(annotation: Mapping[str, Any]) -> str:
    """framesift's labeller id for a Label Studio user (their numeric id: stable, and no email
    address ends up in framesift's tables)."""
    who = annotation.get("completed_by")  # an id in lists, the user object in a task's own answer
    return f"label-studio:{int((who.get('id') if isinstance(who, Mapping) else who) or 0)}"


def review_text(task: Mapping[str, Any]) -> str:
    """What a labeller sees above the image in Label Studio: the last verdict on the task."""
    words = {
        "rejected": "Rejected in review: please correct and update this annotation.",
        "accepted": "Accepted in review.",
        "corrected": "Corrected in review: the reviewer's boxes are the labels.",
    }
    return words.get(task["verdict"] or "", "")


class StudioSync:
    def __init__(
        self,
        engine: Engine,
        desk: LabelDesk,
        outbox: CompletedOutbox,
        client: StudioClient,
        settings: LabelStudioSettings,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.engine, self.desk, self.outbox, self.client, self.settings = engine, desk, outbox, client, settings
        self.clock = clock
        assert settings.secret is not None  # LabelSettings requires both
        assert settings.public_url is not None
        self._secret = settings.secret.get_secret_value()
        self._base = str(settings.public_url)
        self.project_id: int | None = None
        self.last_error: str | None = None  # the last call's failure (readiness reports it)
        self._lock = asyncio.Lock()  # one pass (push, reconcile, apply) at a time in a process
        self._ontologies: list[Ontology] = []
        self._adopt_first = False  # an import's links were not stored: link what it made first
        self._next_reconcile = 0.0  # when the next reconciliation is due (each one sets it)

    # -- SQL in a thread -----------------------------------------------------------------------

    async def _sql(self, work: Callable[[Connection], Any]) -> Any:
        def run() -> Any:
            with self.engine.begin() as connection:
                return work(connection)

        return await asyncio.to_thread(run)

    # -- the project -------------------------------------------------------------------------

    async def ensure_project(self) -> int:
        """The project exists (found by the id kept, else by title, else created) with the
        latest ontology's label config, and the webhook points at framesift."""
        ontology = await self._sql(self.desk.ontology)  # NoOntologyError: the project is made from one
        title = self.settings.project_title
        kept = await self._sql(lambda c: c.execute(sa.select(PROJECTS).where(PROJECTS.c.title == title)).first())
        project = await self.client.project(kept.project_id) if kept else None
        if project is None:
            project = await self.client.find_project(title)
        if project is None:
            project_id = await self.client.create_project(title, label_config(ontology))
        else:
            project_id = int(project["id"])
            if kept is None or kept.project_id != project_id or kept.ontology_version != ontology.version:
                await self.client.set_label_config(project_id, label_config(ontology))
        webhook_id = kept.webhook_id if kept and kept.project_id == project_id else None
        if self.settings.webhook:
            webhook_id = await self._ensure_webhook(project_id, webhook_id)
        values = {"project_id": project_id, "ontology_version": ontology.version, "webhook_id": webhook_id}
        if kept is None or kept.project_id != project_id:
            values |= {"watermark": "", "reconciled_at": 0.0}

        def save(connection: Connection) -> None:
            # The project was deleted in Label Studio and made again: the old links point at
            # nothing; their tasks (labels kept here) go out again to the new project.
            connection.execute(LINKS.delete().where(LINKS.c.project_id != project_id))
            if kept is None:
                connection.execute(PROJECTS.insert().values(title=title, **values))
            else:
                connection.execute(PROJECTS.update().where(PROJECTS.c.title == title).values(**values))

        await self._sql(save)
        self.project_id = project_id
        return project_id

    async def _ensure_webhook(self, project_id: int, webhook_id: int | None) -> int:
        url = f"{self._base.rstrip('/')}/v1/labels/label-studio/webhook"
        if webhook_id is None:  # one made before framesift lost its row (or by another replica)
            existing = [w for w in await self.client.webhooks(project_id) if w.get("url") == url]
            webhook_id = int(existing[0]["id"]) if existing else None
        headers = {signing.WEBHOOK_HEADER: signing.webhook_token(self._secret)}
        return await self.client.put_webhook(project_id, url, headers, WEBHOOK_ACTIONS, webhook_id)

    async def follow_ontology(self) -> bool:
        """A new ontology version updates the project's label config (class ids are the labels'
        `category`: nothing is renumbered). True when it changed."""
        project_id = await self._project()
        ontology = await self._sql(self.desk.ontology)  # a query; parsed only when a new version exists
        title = self.settings.project_title
        kept = await self._sql(
            lambda c: c.execute(sa.select(PROJECTS.c.ontology_version).where(PROJECTS.c.title == title)).scalar()
        )
        if kept == ontology.version:
            return False
        await self.client.set_label_config(project_id, label_config(ontology))
        await self._sql(
            lambda c: c.execute(
                PROJECTS.update().where(PROJECTS.c.title == title).values(ontology_version=ontology.version)
            )
        )
        return True

    async def _project(self) -> int:
        return self.project_id if self.project_id is not None else await self.ensure_project()

    # -- tasks out ---------------------------------------------------------------------------

    async def adopt(self) -> int:
        return await self.adopt_into(await self._project())

    async def adopt_into(self, project_id: int) -> int:
        """Link the project's tasks that carry a framesift task id but have no link here (an
        import whose answer was lost: a crash, a timeout): they are never imported twice."""
        found: dict[str, int] = {}
        async for task in self.client.tasks(project_id, full=False):
            framesift_id = (task.get("data") or {}).get(TASK_KEY)
            if isinstance(framesift_id, str):
                found.setdefault(framesift_id, int(task["id"]))
        if not found:
            return 0
        now = self.clock()

        def link(connection: Connection) -> int:
            linked = set(connection.execute(sa.select(LINKS.c.task_id).where(LINKS.c.task_id.in_(found))).scalars())
            known = set(connection.execute(sa.select(TASKS.c.task_id).where(TASKS.c.task_id.in_(found))).scalars())
            rows = [
                {"task_id": t, "studio_task_id": i, "project_id": project_id, "pushed_at": now, "image_expires": 0.0}
                for t, i in found.items()
                if t in known and t not in linked
            ]
            for row in rows:  # another replica may link the same task meanwhile
                connection.execute(insert_for(connection.dialect.name, LINKS).values(**row).on_conflict_do_nothing())
            return len(rows)

        return await self._sql(link)

    async def push(self, limit: int | None = None) -> int:
        """Import queued tasks that Label Studio does not have yet, highest priority first, a
        batch per call; returns how many were imported."""
        project_id = await self._project()
        total = 0
        async with self._lock:
            while limit is None or total < limit:
                size = self.settings.batch if limit is None else min(self.settings.batch, limit - total)
                pushed = await self._push_batch(project_id, size)
                total += pushed
                if pushed < size:
                    break
        return total

    async def _push_batch(self, project_id: int, size: int) -> int:
        """One batch. On PostgreSQL the import happens while this replica holds the project's
        row (FOR UPDATE): another replica waits, then finds the batch linked, so no task goes out
        twice (the outbox holds its claim across a publish the same way). SQLite is one process
        (the embedded default), where a read held across the call would only risk a busy
        snapshot. An import whose links were not stored is adopted before the next batch."""
        if self._adopt_first:
            await self.adopt_into(project_id)
            self._adopt_first = False
        connection = await asyncio.to_thread(self.engine.connect)
        try:
            hold = connection.dialect.name == "postgresql"
            transaction = await asyncio.to_thread(connection.begin)
            if hold:
                claim = sa.select(PROJECTS.c.title).where(PROJECTS.c.title == self.settings.project_title)
                await asyncio.to_thread(lambda: connection.execute(claim.with_for_update()).all())
            pending = await asyncio.to_thread(_unlinked, connection, size)
            ontology = await asyncio.to_thread(self.desk.ontology, connection)
            if not hold:
                await asyncio.to_thread(transaction.commit)
            if not pending:
                return 0
            expires = int(self.clock() + self.settings.image_url_ttl_s)
            tasks = [studio_task(t, self._image_url(t["task_id"], expires), ontology) for t in pending]
            ids = await self.client.import_tasks(project_id, tasks)
            self._adopt_first = True  # until the links below are stored
            now = self.clock()
            rows = [
                {"task_id": t["task_id"], "studio_task_id": i, "project_id": project_id, "pushed_at": now,
                 "image_expires": float(expires)}
                for t, i in zip(pending, ids, strict=True)
            ]  # fmt: skip
            if not hold:
                transaction = await asyncio.to_thread(connection.begin)
            await asyncio.to_thread(connection.execute, LINKS.insert(), rows)
            await asyncio.to_thread(transaction.commit)
            self._adopt_first = False
            return len(rows)
        finally:
            await asyncio.to_thread(connection.close)

    def _image_url(self, task_id: str, expires: int) -> str:
        return signing.image_url(self._base, self._secret, task_id, expires)

    # -- annotations back --------------------------------------------------------------------

    async def apply_many(self, studio_tasks: Sequence[Mapping[str, Any]], *, foreign_ok: bool = True) -> Applied:
        """Label Studio's current state of several tasks, applied in one transaction (each in a
        savepoint of its own), then one outbox sweep publishes what became done or withdrawn.
        Each task's outcome is `applied`, `unchanged`, `withdrawn` or `flagged`; a task framesift
        never linked counts as `foreign` (someone added it in Label Studio by hand), or raises
        UnknownStudioTaskError when not `foreign_ok`."""
        latest = [(int(t["id"]), _latest_annotation(t)) for t in studio_tasks]

        def run(connection: Connection) -> Applied:
            applied = Applied()
            for studio_id, annotation in latest:
                try:
                    with connection.begin_nested():
                        applied[self._apply(connection, studio_id, annotation)] += 1
                except UnknownStudioTaskError:
                    if not foreign_ok:
                        raise
                    applied["foreign"] += 1
            return applied

        applied = await self._sql(run)
        if applied["applied"] or applied["withdrawn"]:
            await self._publish()
        return applied

    def _apply(self, connection: Connection, studio_id: int, latest: Mapping[str, Any] | None) -> str:
        link = connection.execute(sa.select(LINKS).where(LINKS.c.studio_task_id == studio_id).with_for_update()).first()
        if link is None:
            raise UnknownStudioTaskError(f"Label Studio task {studio_id} is not one of framesift's")
        if latest is None:
            if link.annotation_id is None:
                return "unchanged"
            self.desk.withdraw(connection, link.task_id)
            _remember(connection, link.task_id, None, None)
            return "withdrawn"
        seen = (int(latest["id"]), str(latest.get("updated_at") or ""))
        if seen == (link.annotation_id, link.annotation_updated):
            return "unchanged"
        versions = self._versions(connection)
        mapped = returned(latest.get("result") or (), versions)
        problems = list(mapped.problems)
        if not problems:
            try:
                with connection.begin_nested():  # a refused submission leaves nothing half-written
                    self.desk.submit_from_tool(
                        connection,
                        link.task_id,
                        labeller_of(latest),
                        mapped.annotations,
                        mapped.frame_classes,
                        float(latest.get("lead_time") or 0.0),
                    )
            except InvalidSubmissionError as exc:
                problems.append(str(exc))
        if problems:
            detail = f"Label Studio annotation {seen[0]}: " + "; ".join(problems)
            self.desk.flag(connection, link.task_id, UNMAPPED, detail[:1000])
            log.warning("task %s flagged %s: %s", link.task_id, UNMAPPED, detail)
        _remember(connection, link.task_id, *seen)
        return "flagged" if problems else "applied"

    def _versions(self, connection: Connection) -> list[Ontology]:
        """Every ontology version, newest first; read again only when a new one exists."""
        newest = self.desk.ontology(connection).version
        if not self._ontologies or self._ontologies[0].version != newest:
            self._ontologies = ontology_store.versions(connection)[::-1]
        return self._ontologies

    async def _publish(self) -> None:
        """labels.completed for the tasks the tool finished or withdrew (the outbox's sweep, a
        batch per transaction); a bus outage leaves them to its next sweep."""
        try:
            await self.outbox.publish()
        except (BusUnavailableError, OperationalError) as exc:
            log.warning("labels.completed not published yet, will retry: %s", exc)

    async def apply_ids(self, studio_ids: Iterable[int]) -> Applied:
        """The tasks a webhook named, read from Label Studio and applied. Unknown ids raise
        before Label Studio is asked anything."""
        ids = sorted(set(studio_ids))
        linked = await self._sql(
            lambda c: set(c.execute(sa.select(LINKS.c.studio_task_id).where(LINKS.c.studio_task_id.in_(ids))).scalars())
        )
        unknown = [i for i in ids if i not in linked]
        if unknown:
            raise UnknownStudioTaskError(f"Label Studio tasks {unknown} are not framesift's")
        async with self._lock:
            found = []
            for studio_id in ids:
                task = await self.client.task(studio_id)
                # Deleted in Label Studio: its labels are gone with it.
                found.append(task if task is not None else {"id": studio_id, "annotations": []})
            return await self.apply_many(found, foreign_ok=False)

    async def tasks_of_annotations(self, annotation_ids: Iterable[int]) -> list[int]:
        """The Label Studio tasks whose applied annotation is one of these (a deletion's webhook
        names only annotation ids)."""
        ids = sorted(set(annotation_ids))
        rows = await self._sql(
            lambda c: c.execute(
                sa.select(LINKS.c.annotation_id, LINKS.c.studio_task_id).where(LINKS.c.annotation_id.in_(ids))
            ).all()
        )
        found = {a: t for a, t in rows}
        unknown = [i for i in ids if i not in found]
        if unknown:
            raise UnknownStudioTaskError(f"no task of framesift holds Label Studio annotations {unknown}")
        return sorted(set(found.values()))

    async def reconcile(self) -> Applied:
        return await self.reconcile_into(await self._project())

    async def reconcile_into(self, project_id: int) -> Applied:
        """Read every task changed since the watermark (less `overlap_s`) and apply it: what a
        lost webhook, or a time framesift was down, left behind arrives now."""
        title = self.settings.project_title
        watermark = await self._sql(
            lambda c: c.execute(sa.select(PROJECTS.c.watermark).where(PROJECTS.c.title == title)).scalar()
        )
        applied = Applied()
        newest = studio_time(watermark) if watermark else ""
        async with self._lock:
            since = _minus(watermark, self.settings.overlap_s)
            async for page in self.client.pages(project_id, updated_after=since):
                applied.update(await self.apply_many(page))
                newest = max([newest, *(studio_time(t["updated_at"]) for t in page if t.get("updated_at"))])
        now = self.clock()
        await self._sql(
            lambda c: c.execute(
                PROJECTS.update().where(PROJECTS.c.title == title).values(watermark=newest, reconciled_at=now)
            )
        )
        self._next_reconcile = now + self.settings.reconcile_every_s
        return applied

    # -- verdicts and image URLs back out ----------------------------------------------------

    async def write_back(self) -> int:
        """Verdicts not yet written to Label Studio, and image URLs about to expire: each task's
        data is rewritten (review text, fresh URL). Returns how many tasks were written."""
        now = self.clock()
        renew_before = now + self.settings.image_url_ttl_s / 4
        rows = await self._sql(lambda c: _to_write(c, renew_before))
        if not rows:
            return 0
        ontology = await self._sql(self.desk.ontology)
        written = 0
        for row in rows:
            expires = int(now + self.settings.image_url_ttl_s)
            data = studio_task(row, self._image_url(row["task_id"], expires), ontology, review_text(row))["data"]
            meta = {"framesift": {"state": row["state"], "verdict": row["verdict"], "reviewer": row["reviewer"] or ""}}
            await self.client.patch_task(row["studio_task_id"], data=data, meta=meta)
            written_values = {"review_written": row["reviewed_at"] or 0.0, "image_expires": float(expires)}
            await self._sql(
                lambda c, task_id=row["task_id"], values=written_values: c.execute(
                    LINKS.update().where(LINKS.c.task_id == task_id).values(**values)
                )
            )
            written += 1
        return written

    # -- running -----------------------------------------------------------------------------

    async def start(self) -> None:
        """The project, links for tasks an earlier run imported, then what changed meanwhile.
        Until it succeeds the service is not ready, and run_forever tries again."""
        project_id = await self.ensure_project()
        self.project_id = None  # ready only once the rest is done too
        await self.adopt_into(project_id)
        await self.reconcile_into(project_id)
        self.project_id = project_id
        self.last_error = None

    async def run_forever(self) -> None:
        """Start (the project, links, what changed meanwhile), then a round every push_every_s;
        an outage is retried next round."""
        while True:
            try:
                if self.project_id is None:
                    await self.start()
                else:
                    await self.run_once()
            except (StudioUnavailableError, StudioRefusedError, NoOntologyError, OperationalError) as exc:
                self._failed(exc)
            await asyncio.sleep(self.settings.push_every_s)

    async def run_once(self) -> None:
        """One round: the label config, new tasks out, verdicts and image URLs back, and the
        reconciliation when it is due. A label config Label Studio refuses (it will not drop a
        control its annotations use) is reported (readiness) but stops nothing else."""
        refused = None
        try:
            await self.follow_ontology()
        except StudioRefusedError as exc:
            refused = exc
            self._failed(exc)
        await self.push()
        await self.write_back()
        if self.clock() >= self._next_reconcile:
            await self.reconcile()
        if refused is None:
            self.last_error = None

    def _failed(self, exc: Exception) -> None:
        self.last_error = str(exc)
        log.warning("Label Studio sync: %s (tasks wait; nothing is lost)", exc)

    async def ready(self) -> bool:
        return self.project_id is not None and self.last_error is None and await self.client.healthy()


def _latest_annotation(studio: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The annotation that counts: the newest one not cancelled (a skip in Label Studio)."""
    kept = [a for a in studio.get("annotations") or () if not a.get("was_cancelled")]
    return max(
        kept, key=lambda a: (studio_time(a["updated_at"]) if a.get("updated_at") else "", int(a["id"])), default=None
    )


def _unlinked(connection: Connection, size: int) -> list[dict[str, Any]]:
    linked = sa.exists().where(LINKS.c.task_id == TASKS.c.task_id)
    rows = connection.execute(
        sa.select(TASKS)
        .where(TASKS.c.state == TaskState.QUEUED.value, ~linked)
        .order_by(TASKS.c.priority.desc(), TASKS.c.task_id)
        .limit(size)
    )
    return [dict(r) for r in rows.mappings()]


def _to_write(connection: Connection, renew_before: float) -> list[dict[str, Any]]:
    reviewed = sa.func.coalesce(TASKS.c.reviewed_at, 0.0) > sa.func.coalesce(LINKS.c.review_written, 0.0)
    expiring = sa.and_(TASKS.c.state != TaskState.DONE.value, LINKS.c.image_expires < renew_before)
    rows = connection.execute(
        sa.select(TASKS, LINKS.c.studio_task_id)
        .join(LINKS, LINKS.c.task_id == TASKS.c.task_id)
        .where(sa.or_(reviewed, expiring))
        .order_by(TASKS.c.task_id)
        .limit(500)
    )
    return [dict(r) for r in rows.mappings()]


def _remember(connection: Connection, task_id: str, annotation_id: int | None, updated: str | None) -> None:
    connection.execute(
        LINKS.update().where(LINKS.c.task_id == task_id).values(annotation_id=annotation_id, annotation_updated=updated)
    )


def _minus(watermark: str | None, seconds: float) -> str | None:
    """Label Studio's ISO 8601 time, `seconds` earlier (None: read everything)."""
    if not watermark:
        return None
    return studio_time(studio_moment(watermark) - timedelta(seconds=seconds))
