"""Label Studio as the labelling tool, against a real Label Studio server: the project from two
ontology versions, tasks imported with their pre-labels once, annotations back by
reconciliation (mapped through the ontology, flagged when they cannot be), deletions withdrawn,
verdicts written back, and an outage that loses nothing."""

from __future__ import annotations

import asyncio

import httpx
import pytest
import sqlalchemy as sa
from pydantic import SecretStr

from framesift.app.registry import build_adapters, create_schema
from framesift.services.label.completed import CompletedOutbox
from framesift.services.label.desk import LabelDesk, TaskState, Verdict, create_task, task_id_for
from framesift.services.label.labellers import Labellers
from framesift.services.label.ontology import parse
from framesift.services.label.ontology_store import apply
from framesift.services.label.settings import LabellingTool, LabelSettings, LabelStudioSettings, ReviewSettings
from framesift.services.label.studio import signing
from framesift.services.label.studio.client import StudioClient, StudioUnavailableError
from framesift.services.label.studio.sync import UNMAPPED, StudioSync
from framesift.services.label.tables import LabelTask, StudioLink
from framesift.sql.engine import make_engine
from tests.integration.test_label_desk import ONTOLOGY, detection, selected
from tests.support.curation import fresh_postgres
from tests.support.running import running
from tests.support.scenes import encode, scene
from tests.support.servers import free_port
from tests.support.waiting import eventually

SECRET = "a-test-secret-of-at-least-32-characters!"
V1 = ONTOLOGY
V2 = {  # person renamed (same id), truck added
    "classes": [
        {"id": 1, "name": "car", "attributes": [{"name": "state", "values": ["parked", "moving"]}, "occluded"],
         "required_attributes": ["state"]},
        {"id": 2, "name": "pedestrian"},
        {"id": 3, "name": "night", "kind": "frame"},
        {"name": "truck"},
    ]
}  # fmt: skip
TASKS = LabelTask.__table__
LINKS = StudioLink.__table__


def studio_settings(server, **changes) -> LabelStudioSettings:
    values = {
        "url": server.url,
        "token": SecretStr(server.token),
        "secret": SecretStr(SECRET),
        "public_url": "http://127.0.0.1:1",
        "webhook": False,
        "project_title": f"framesift {free_port()}",  # a project of this test's own
    } | changes
    return LabelStudioSettings(**values)


def row(engine, frame_id: str) -> dict:
    with engine.connect() as connection:
        return dict(connection.execute(sa.select(TASKS).where(TASKS.c.frame_id == frame_id)).mappings().one())


def region(label: str, box, region_id: str = "r1") -> dict:
    x0, y0, x1, y1 = box
    value = {"x": x0 * 100, "y": y0 * 100, "width": (x1 - x0) * 100, "height": (y1 - y0) * 100, "rotation": 0}
    return {
        "id": region_id, "from_name": "box", "to_name": "image", "type": "rectanglelabels",
        "original_width": 640, "original_height": 360, "value": value | {"rectanglelabels": [label]},
    }  # fmt: skip


def extra(control: str, kind: str, value: dict, region_id: str = "r1") -> dict:
    return {"id": region_id, "from_name": control, "to_name": "image", "type": kind, "value": value}


class Studio:
    """Label Studio's own API, as a labeller's browser would call it."""

    def __init__(self, server) -> None:
        self.http = httpx.Client(base_url=server.url, headers={"Authorization": f"Token {server.token}"}, timeout=30)

    def tasks(self, project_id: int) -> dict[str, dict]:
        found = self.http.get("/api/tasks/", params={"project": project_id, "fields": "all", "page_size": 1000})
        return {t["data"]["framesift_task"]: t for t in found.json()["tasks"]}

    def annotate(self, studio_task_id: int, result: list[dict], lead_time: float = 0.0) -> int:
        made = self.http.post(
            f"/api/tasks/{studio_task_id}/annotations/", json={"result": result, "lead_time": lead_time}
        )
        assert made.status_code == 201, made.text
        return made.json()["id"]


@pytest.fixture
def desk_and_outbox(embedded_adapters):
    review = ReviewSettings(rate=0.0, new_labeller_tasks=0, min_per_stratum=0, class_rates={"pedestrian": 1.0})
    settings = LabelSettings(review=review)
    desk = LabelDesk(embedded_adapters.engine, settings)
    outbox = CompletedOutbox(embedded_adapters.engine, embedded_adapters.publisher(), embedded_adapters.settings.splits)
    return embedded_adapters.engine, desk, outbox


async def test_tasks_go_out_once_and_annotations_come_back_through_the_ontology(label_studio, desk_and_outbox) -> None:
    engine, desk, outbox = desk_and_outbox
    car = detection("car", 0.9, (0.1, 0.2, 0.3, 0.4))
    frames = [selected(f"ls-{i}", priority=0.9 - i / 10, detections=[car]) for i in range(4)]
    with engine.begin() as connection:
        apply(connection, parse(V1), author="test", now=1.0)
        for frame in frames:
            create_task(connection, frame, 1.0)
    settings = studio_settings(label_studio, batch=3)
    client = StudioClient(settings.url.unicode_string(), settings.token.get_secret_value())
    sync = StudioSync(engine, desk, outbox, client, settings)
    studio = Studio(label_studio)
    try:
        await sync.start()
        project = studio.http.get(f"/api/projects/{sync.project_id}/").json()
        assert 'category="1"' in project["label_config"]
        assert 'value="person"' in project["label_config"]

        # Out, in batches of 3, highest priority first; a second push imports nothing.
        assert await sync.push() == 4
        assert await sync.push() == 0
        imported = studio.tasks(sync.project_id)
        assert sorted(imported) == sorted(task_id_for(f.frame_id) for f in frames)
        prediction = imported[task_id_for("ls-0")]["predictions"][0]
        assert (prediction["model_version"], prediction["score"]) == ("tiny-test/1", 0.9)
        shown = prediction["result"][0]["value"]
        assert shown["rectanglelabels"] == ["car"]
        assert [round(shown[k], 6) for k in ("x", "y", "width", "height")] == [10.0, 20.0, 20.0, 20.0]

        # An import whose answer was lost: the task is found in the project and linked, never
        # imported twice.
        with engine.begin() as connection:
            connection.execute(LINKS.delete().where(LINKS.c.task_id == task_id_for("ls-3")))
        assert await sync.adopt() == 1
        assert await sync.push() == 0
        assert len(studio.tasks(sync.project_id)) == 4

        # A new ontology version updates the project: the renamed class keeps its id.
        with engine.begin() as connection:
            apply(connection, parse(V2), author="test", now=2.0)
        assert await sync.follow_ontology()
        config = studio.http.get(f"/api/projects/{sync.project_id}/").json()["label_config"]
        assert '<Label value="pedestrian" category="2"' in config
        assert '<Label value="truck" category="4"' in config
        assert 'value="person"' not in config

        ids = {t: imported[t]["id"] for t in imported}
        # A car with its attributes and a track id, and the frame class: done (not sampled).
        studio.annotate(
            ids[task_id_for("ls-0")],
            [
                region("car", (0.1, 0.2, 0.35, 0.4)),
                extra("attr-1-state", "choices", {"choices": ["parked"]}),
                extra("attr-1-occluded", "choices", {"choices": ["occluded"]}),
                extra("track", "textarea", {"text": ["t-7"]}),
                {
                    "id": "fc",
                    "from_name": "frame",
                    "to_name": "image",
                    "type": "choices",
                    "value": {"choices": ["night"]},
                },
            ],
            lead_time=42.5,
        )
        # A box labelled with the class's old name (made before the rename) maps to its id.
        studio.annotate(ids[task_id_for("ls-1")], [region("person", (0.5, 0.5, 0.6, 0.8))])
        # A label the ontology never had: the task is flagged, nothing applied.
        studio.annotate(ids[task_id_for("ls-2")], [region("bus", (0.5, 0.5, 0.6, 0.8))])
        applied = await sync.reconcile()
        assert (applied["applied"], applied["flagged"]) == (2, 1)

        done = row(engine, "ls-0")
        assert (done["state"], done["published"], done["labeller"]) == (TaskState.DONE, True, "label-studio:1")
        assert done["labelling_seconds"] == 42.5
        assert done["frame_classes"] == ["night"]
        (annotation,) = done["annotations"]
        assert (annotation["class_id"], annotation["track_id"]) == (1, "t-7")
        assert annotation["attributes"] == {"state": "parked", "occluded": "true"}
        assert annotation["box"] == pytest.approx([0.1, 0.2, 0.35, 0.4], abs=1e-6)
        renamed = row(engine, "ls-1")
        assert renamed["state"] == TaskState.REVIEW  # pedestrians are always reviewed here
        assert [(a["class"], a["class_id"]) for a in renamed["annotations"]] == [("pedestrian", 2)]
        flagged = row(engine, "ls-2")
        assert flagged["state"] == TaskState.QUEUED
        assert UNMAPPED in flagged["qa_flags"]
        assert "'bus' is not a class of ontology v2" in flagged["qa_findings"][0]["detail"]

        # A second pass (or a duplicate webhook) changes nothing.
        again = await sync.reconcile()
        assert again["applied"] == again["withdrawn"] == again["flagged"] == 0

        # A reviewer rejects the pedestrian: Label Studio's task says so; the labeller's update
        # is a new submission.
        reviewing = desk.next_review("rita")
        assert reviewing["task_id"] == task_id_for("ls-1")
        desk.verdict("rita", reviewing["task_id"], Verdict.REJECTED)
        assert await sync.write_back() >= 1
        shown = studio.http.get(f"/api/tasks/{ids[task_id_for('ls-1')]}/").json()
        assert shown["data"]["review"].startswith("Rejected in review")
        assert shown["meta"]["framesift"]["verdict"] == "rejected"
        (first,) = shown["annotations"]
        studio.http.patch(f"/api/annotations/{first['id']}/", json={"result": [region("person", (0.5, 0.5, 0.7, 0.8))]})
        assert (await sync.reconcile())["applied"] == 1
        assert row(engine, "ls-1")["state"] == TaskState.REVIEW

        # Deleted in Label Studio after labels.completed: the labels are withdrawn (published
        # through the outbox), not left to diverge.
        (labelled,) = studio.http.get(f"/api/tasks/{ids[task_id_for('ls-0')]}/").json()["annotations"]
        assert studio.http.delete(f"/api/annotations/{labelled['id']}/").status_code == 204
        assert (await sync.reconcile())["withdrawn"] == 1
        withdrawn = row(engine, "ls-0")
        assert (withdrawn["state"], withdrawn["annotations"], withdrawn["withdrawn_at"]) == (TaskState.QUEUED, [], None)

        # An image URL about to expire is renewed in Label Studio while the task is open.
        with engine.begin() as connection:
            connection.execute(LINKS.update().where(LINKS.c.task_id == task_id_for("ls-2")).values(image_expires=0.0))
        assert await sync.write_back() == 1
        with engine.connect() as connection:
            renewed = connection.execute(
                sa.select(LINKS.c.image_expires).where(LINKS.c.task_id == task_id_for("ls-2"))
            ).scalar_one()
        shown = studio.http.get(f"/api/tasks/{ids[task_id_for('ls-2')]}/").json()["data"]["image"]
        assert renewed > 0
        assert f"/v1/labels/label-studio/images/{task_id_for('ls-2')}?expires={int(renewed)}&signature=" in shown

        # A version Label Studio refuses (it keeps a control its annotations use): reported by
        # readiness, and the rest of the sync goes on.
        moving = [region("car", (0.1, 0.2, 0.3, 0.4)), extra("attr-1-state", "choices", {"choices": ["moving"]})]
        studio.annotate(ids[task_id_for("ls-3")], moving)
        assert (await sync.reconcile())["applied"] == 1
        v3 = {"classes": [{**c, "attributes": [], "required_attributes": []} if c["name"] == "car" else c
                          for c in V2["classes"]]}  # fmt: skip
        with engine.begin() as connection:
            apply(connection, parse(v3), author="test", now=3.0)
            create_task(connection, selected("ls-4", detections=[car]), 3.0)
        await sync.run_once()
        assert "attr-1-state" in (sync.last_error or "")
        assert not await sync.ready()
        assert task_id_for("ls-4") in studio.tasks(sync.project_id)  # pushed all the same
    finally:
        await client.aclose()
        studio.http.close()


async def test_an_outage_queues_the_tasks_and_readiness_says_so(label_studio, desk_and_outbox) -> None:
    engine, desk, outbox = desk_and_outbox
    with engine.begin() as connection:
        apply(connection, parse(V1), author="test", now=1.0)
        create_task(connection, selected("down-1"), 1.0)
    settings = studio_settings(label_studio)
    nowhere = StudioClient(f"http://127.0.0.1:{free_port()}", "x" * 40, timeout_s=1, attempts=3, max_wait_s=0.05)
    down = StudioSync(engine, desk, outbox, nowhere, settings)
    with pytest.raises(StudioUnavailableError, match="Label Studio is unavailable"):
        await down.start()
    assert not await down.ready()
    with engine.connect() as connection:
        assert connection.execute(sa.select(sa.func.count()).select_from(LINKS)).scalar_one() == 0
    await nowhere.aclose()

    client = StudioClient(settings.url.unicode_string(), settings.token.get_secret_value())
    back = StudioSync(engine, desk, outbox, client, settings)
    try:
        await back.start()
        assert await back.ready()
        assert await back.push() == 1  # what waited goes out once Label Studio is back
    finally:
        await client.aclose()


def test_the_tool_needs_its_settings() -> None:
    with pytest.raises(ValueError, match="FRAMESIFT_LABEL__LABEL_STUDIO__TOKEN"):
        LabelSettings(tool=LabellingTool.LABEL_STUDIO, label_studio=LabelStudioSettings(url="http://ls:8080"))


def truth(engine, frame_id: str):
    with engine.connect() as connection:
        return connection.execute(
            sa.text("SELECT annotations FROM eval_truth WHERE frame_id = :f"), {"f": frame_id}
        ).scalar()


async def test_webhooks_bring_annotations_and_a_restart_misses_none(label_studio, embedded_settings) -> None:
    port = free_port()
    tool = studio_settings(
        label_studio, public_url=f"http://127.0.0.1:{port}", webhook=True, push_every_s=0.2, reconcile_every_s=3600
    )
    review = ReviewSettings(rate=0.0, new_labeller_tasks=0, min_per_stratum=0)
    label = LabelSettings(review=review, tool=LabellingTool.LABEL_STUDIO, label_studio=tool)
    settings = embedded_settings.model_copy(update={"http_port": port, "label": label})
    frames = [selected(f"hook-{i}", priority=0.5) for i in range(6)]
    studio = Studio(label_studio)
    hook = f"http://127.0.0.1:{port}/v1/labels/label-studio/webhook"
    header = {signing.WEBHOOK_HEADER: signing.webhook_token(SECRET)}
    adapters = build_adapters(settings)
    await adapters.start()
    with adapters.engine.begin() as connection:
        apply(connection, parse(V1), author="test", now=1.0)
    image = encode(scene(64, 48, seed=3))
    await adapters.store.put(frames[0].frame.object_key, image, "image/jpeg")
    try:
        async with running(adapters, ["label", "evaluate"]):
            for frame in frames:
                await adapters.publisher().publish(frame)
            project_id = await eventually(lambda: _project_id(adapters.engine), what="the project made")
            imported = await eventually(
                lambda: _all_imported(studio, project_id, len(frames)),
                what="every task imported",
            )
            ids = {t: imported[t]["id"] for t in imported}
            async with httpx.AsyncClient() as http:
                # The image URL Label Studio holds is framesift's, signed; a forged one is refused.
                url = imported[task_id_for("hook-0")]["data"]["image"]
                assert (await http.get(url)).content == image
                assert (await http.get(url.replace("signature=", "signature=0"))).status_code == 403

                # Labelling happens in Label Studio: framesift's own queue hands out nothing.
                key = Labellers(adapters.engine).add("ann")
                refused = await http.post(
                    f"http://127.0.0.1:{port}/v1/labels/tasks/next", headers={"authorization": f"Bearer {key}"}
                )
                assert (refused.status_code, refused.json()["code"]) == (409, "labelled_in_tool")

                # Label Studio's webhook brings an annotation in (reconciliation waits an hour).
                # (Label Studio's calls run in a thread: its webhook must find this loop free.)
                await asyncio.to_thread(
                    studio.annotate, ids[task_id_for("hook-0")], [region("person", (0.2, 0.2, 0.4, 0.6))]
                )
                await eventually(lambda: truth(adapters.engine, "hook-0"), what="labels.completed at evaluate")
                assert row(adapters.engine, "hook-0")["state"] == TaskState.DONE

                # The same webhook again: nothing new. An unknown task: 404; garbage: 400 (kept);
                # no secret: 401.
                body = {"action": "ANNOTATION_UPDATED", "task": {"id": ids[task_id_for("hook-0")]}}
                again = await http.post(hook, json=body, headers=header)
                assert (again.status_code, again.json()) == (200, {"applied": {"unchanged": 1}})
                unknown = await http.post(
                    hook, json={"action": "ANNOTATION_CREATED", "task": {"id": 10**9}}, headers=header
                )
                assert (unknown.status_code, unknown.json()["code"]) == (404, "not_found")
                garbage = await http.post(hook, content=b"{not json", headers=header)
                assert (garbage.status_code, garbage.json()["code"]) == (400, "bad_request")
                assert (await http.post(hook, json=body)).status_code == 401
                with adapters.engine.connect() as connection:
                    kept = connection.execute(sa.text("SELECT status, body FROM label_studio_inbox ORDER BY id")).all()
                assert [(k.status, k.body) for k in kept][-1] == (400, "{not json")
                assert [k.status for k in kept] == [404, 400]

                # Deleted in Label Studio: the labels are withdrawn downstream too.
                shown = await asyncio.to_thread(studio.http.get, f"/api/tasks/{ids[task_id_for('hook-0')]}/")
                (made,) = shown.json()["annotations"]
                await asyncio.to_thread(studio.http.delete, f"/api/annotations/{made['id']}/")
                await eventually(lambda: truth(adapters.engine, "hook-0") is None, what="the truth withdrawn")
                assert row(adapters.engine, "hook-0")["state"] == TaskState.QUEUED

        # framesift is down while four annotations are made: their webhooks are lost.
        for i in range(1, 5):
            studio.annotate(ids[task_id_for(f"hook-{i}")], [region("person", (0.1, 0.1, 0.2, 0.2))])
        assert all(row(adapters.engine, f"hook-{i}")["state"] == TaskState.QUEUED for i in range(1, 5))
        async with running(adapters, ["label", "evaluate"]):  # reconciliation on start brings them
            await eventually(
                lambda: all(truth(adapters.engine, f"hook-{i}") for i in range(1, 5)), what="the lost annotations"
            )
        rounds = {f"hook-{i}": row(adapters.engine, f"hook-{i}")["submitted_at"] for i in range(1, 5)}
        # Exactly once: a further pass applies nothing and leaves every submission as it was.
        client = StudioClient(label_studio.url, label_studio.token)
        sync = StudioSync(adapters.engine, LabelDesk(adapters.engine, label), None, client, tool)  # type: ignore[arg-type]
        try:
            assert (await sync.reconcile())["applied"] == 0
        finally:
            await client.aclose()
        assert {f: row(adapters.engine, f)["submitted_at"] for f in rounds} == rounds
    finally:
        adapters.close()
        studio.http.close()


async def _all_imported(studio: Studio, project_id: int, count: int) -> dict[str, dict] | None:
    found = await asyncio.to_thread(studio.tasks, project_id)
    return found if len(found) == count else None


def _project_id(engine) -> int | None:
    with engine.connect() as connection:
        return connection.execute(sa.text("SELECT project_id FROM label_studio_projects")).scalar()


async def test_two_replicas_pushing_at_once_import_each_task_once(label_studio, postgres_url) -> None:
    with fresh_postgres(postgres_url) as url:
        engines = [make_engine(url), make_engine(url)]  # two processes' pools
        create_schema(engines[0], ["label"])
        with engines[0].begin() as connection:
            apply(connection, parse(V1), author="test", now=1.0)
            for i in range(30):
                create_task(connection, selected(f"replica-{i}"), 1.0)
        settings = studio_settings(label_studio, batch=5)
        clients = [StudioClient(label_studio.url, label_studio.token) for _ in engines]
        replicas = [
            StudioSync(engine, LabelDesk(engine, LabelSettings()), None, client, settings)  # type: ignore[arg-type]
            for engine, client in zip(engines, clients, strict=True)
        ]
        try:
            for replica in replicas:
                await replica.ensure_project()
            pushed = await asyncio.gather(*(replica.push() for replica in replicas))
            assert sum(pushed) == 30
            assert len(await asyncio.to_thread(Studio(label_studio).tasks, replicas[0].project_id)) == 30
        finally:
            for client in clients:
                await client.aclose()
            for engine in engines:
                engine.dispose()
