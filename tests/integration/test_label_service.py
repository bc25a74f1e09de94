"""The label service in the pipeline: selected frames become tasks with the detector's
pre-labels (or none, said so, on the descriptor backend); a labeller works through the HTTP API;
labels.completed reaches curate, whose status becomes labelled."""

from __future__ import annotations

import hashlib
import json

import httpx
import sqlalchemy as sa
from pydantic import SecretStr

from framesift.app.registry import build_adapters
from framesift.contracts.vocabulary import Status
from framesift.runtime.settings import EmbedBackendKind
from framesift.services.curate.settings import CurateSettings
from framesift.services.evaluate.tables import Truth
from framesift.services.label.settings import LabelSettings, ReviewSettings
from framesift.services.label.tables import LabelTask
from tests.support.curation import run_pipeline, uploads
from tests.support.running import running
from tests.support.waiting import eventually

CURATE = CurateSettings(window_s=1800, lateness_s=0, budget_per_window=2, budget_per_day=100)
NO_REVIEW = ReviewSettings(rate=0.0, new_labeller_tasks=0, min_per_stratum=0)
ONTOLOGY = {"classes": [{"name": "car"}, {"name": "person"}, {"name": "bicycle"}, {"name": "night", "kind": "frame"}]}
TOKEN = "operator-secret-for-tests"


def tasks(engine) -> list[dict]:
    with engine.connect() as connection:
        rows = connection.execute(sa.select(LabelTask.__table__).order_by(LabelTask.frame_id)).mappings()
        return [dict(r) for r in rows]


def evaluated_truth(engine, frame_id: str):
    with engine.connect() as connection:
        return connection.execute(sa.select(Truth.__table__).where(Truth.frame_id == frame_id)).one_or_none()


def curated_status(engine, frame_id: str) -> int:
    with engine.connect() as connection:
        return connection.execute(
            sa.text("SELECT status FROM curated_frames WHERE frame_id = :f"), {"f": frame_id}
        ).scalar_one()


async def test_selected_frames_become_tasks_with_the_detectors_prelabels(embedded_settings, model_repository) -> None:
    settings = embedded_settings.model_copy(
        update={"embed_backend": EmbedBackendKind.LOCAL, "model_repository": model_repository, "curate": CURATE}
    )
    await run_pipeline(settings, uploads("model-cam", count=9))
    adapters = build_adapters(settings)
    try:
        with adapters.engine.connect() as connection:
            selected = connection.execute(
                sa.text("SELECT frame_id, detections FROM curated_frames WHERE status >= :s"),
                {"s": int(Status.SELECTED)},
            ).all()
        made = tasks(adapters.engine)
        assert selected
        assert sorted(t["frame_id"] for t in made) == sorted(r.frame_id for r in selected)
        assert all(t["has_detector"] and t["model"].startswith("tiny-test/") for t in made)
        assert all((t["width"], t["height"]) == (640, 360) for t in made)
        with_prelabels = [t for t in made if t["prelabels"]]
        assert with_prelabels, "the tiny detector finds classes in bright frames"
        for task in with_prelabels:
            assert all(0 <= p["score"] <= 1 and len(p["box"]) == 4 for p in task["prelabels"])
    finally:
        adapters.close()


async def test_a_labeller_works_through_the_http_api_and_curate_hears_it(embedded_settings) -> None:
    settings = embedded_settings.model_copy(
        update={"curate": CURATE, "operator_token": SecretStr(TOKEN), "label": LabelSettings(review=NO_REVIEW)}
    )
    frame_ids = await run_pipeline(settings, uploads("label-cam", count=9))
    adapters = build_adapters(settings)
    async with running(adapters, ["curate", "label", "evaluate"]) as runner:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{runner.http_port}") as client:
            operator = {"authorization": f"Bearer {TOKEN}"}
            # Write actions need an identity: the operator's token, a labeller's key.
            assert (await client.put("/v1/labels/ontology", json=ONTOLOGY)).status_code == 401
            version = await client.put("/v1/labels/ontology", json=ONTOLOGY, headers=operator)
            assert (version.status_code, version.json()["version"], version.json()["changed"]) == (200, 1, True)
            again = await client.put("/v1/labels/ontology", json=ONTOLOGY, headers=operator)
            assert (again.json()["version"], again.json()["changed"]) == (1, False)
            bad = await client.put("/v1/labels/ontology", json={"classes": [{"name": "Car!"}]}, headers=operator)
            assert (bad.status_code, bad.json()["code"]) == (400, "invalid_ontology")
            created = await client.post("/v1/labels/labellers", json={"labeller_id": "ann"}, headers=operator)
            assert created.status_code == 201
            ann = {"authorization": f"Bearer {created.json()['api_key']}"}
            assert (await client.post("/v1/labels/tasks/next")).status_code == 401
            wrong = await client.post("/v1/labels/tasks/next", headers={"authorization": "Bearer fsl_nope"})
            assert (wrong.status_code, wrong.json()["code"]) == (401, "unauthenticated")

            task = (await client.post("/v1/labels/tasks/next", headers=ann)).json()
            assert task["frame"]["frame_id"] in frame_ids
            assert "prelabels" not in task  # proto JSON leaves empty lists out
            assert "no detector" in task["why"]
            bad_box = {"annotations": [{"class": "car", "box": [0.1, 0.1, 1.5, 0.3]}]}
            refused = await client.post(f"/v1/labels/tasks/{task['task_id']}/submit", json=bad_box, headers=ann)
            assert (refused.status_code, refused.json()["code"]) == (400, "invalid_argument")
            assert refused.json()["detail"].startswith("annotations[0].box:")
            missing = await client.post("/v1/labels/tasks/no-such/submit", json={"annotations": []}, headers=ann)
            assert missing.status_code == 404
            body = {"annotations": [{"class": "car", "box": [0.1, 0.1, 0.3, 0.3]}], "frame_classes": ["night"]}
            done = await client.post(f"/v1/labels/tasks/{task['task_id']}/submit", json=body, headers=ann)
            assert done.status_code == 200
            assert done.json()["state"] == "done"
            assert done.json()["final_annotations"][0]["class_id"] == 1
            twice = await client.post(f"/v1/labels/tasks/{task['task_id']}/submit", json=body, headers=ann)
            assert (twice.status_code, twice.json()["code"]) == (409, "not_leased")
            # The frame's task by frame id (one per frame): its labeller may read it, nobody unnamed.
            of_frame = await client.get(f"/v1/labels/frames/{task['frame']['frame_id']}/task", headers=ann)
            assert of_frame.json()["task_id"] == task["task_id"]
            assert (await client.get(f"/v1/labels/frames/{task['frame']['frame_id']}/task")).status_code == 401
            assert (await client.get("/v1/labels/frames/never-seen/task", headers=ann)).status_code == 404

            # labels.completed -> curate: the frame is labelled there.
            await eventually(
                lambda: curated_status(adapters.engine, task["frame"]["frame_id"]) == Status.LABELLED,
                timeout=30,
                what="curate to fold labels.completed",
            )
            # ... and evaluate keeps the frame's truth, in pixels of the frame's own size.
            await eventually(
                lambda: evaluated_truth(adapters.engine, task["frame"]["frame_id"]) is not None,
                timeout=30,
                what="evaluate to fold labels.completed",
            )
            truth = evaluated_truth(adapters.engine, task["frame"]["frame_id"])
            assert (truth.width, truth.height, truth.camera_id) == (640, 360, "label-cam")
            assert [a["class"] for a in truth.annotations] == ["car"]
            # A dataset version through the API, in the object store, downloadable by the operator.
            body = {"format": "coco", "query": "split:train split:val split:evaluation"}
            assert (await client.post("/v1/labels/exports", json=body)).status_code == 401
            made = await client.post("/v1/labels/exports", json=body, headers=operator)
            assert made.status_code == 201
            dataset = made.json()["dataset_id"]
            assert sum(made.json()["frames_by_split"].values()) == 1
            base = f"/v1/labels/exports/{dataset}/files"
            manifest = await client.get(f"{base}/manifest.json", headers=operator)
            assert manifest.json()["dataset_id"] == dataset
            assert hashlib.sha256(manifest.content).hexdigest() == made.json()["manifest_sha256"]
            listed = (await client.get("/v1/labels/exports", headers=operator)).json()["datasets"]
            assert [d["dataset_id"] for d in listed] == [dataset]
            assert (await client.get(f"{base}/nothing.json", headers=operator)).status_code == 404
            traversal = await client.get(f"{base}/..%2F..%2Fframes", headers=operator)
            assert traversal.status_code in (400, 404)
            assert (
                await client.get("/v1/labels/exports/ds-x/files/manifest.json", headers=operator)
            ).status_code == 400
            unknown = await client.post("/v1/labels/exports", json={"format": "voc"}, headers=operator)
            assert (unknown.status_code, unknown.json()["code"]) == (400, "invalid_argument")

            figures = (await client.get("/v1/labels/stats")).json()
            assert figures["tasks_by_state"]["done"] == 1
            assert figures["median_seconds_without_prelabels"] >= 0
            assert "median_seconds_with_prelabels" not in figures  # no task had pre-labels
    adapters.close()


async def test_label_service_over_grpc_with_review_and_status_codes(embedded_settings) -> None:
    import grpc
    from grpc_health.v1 import health_pb2, health_pb2_grpc
    from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

    from framesift.services.label.labellers import Labellers
    from framesift.v1 import frames_pb2, labels_pb2, labels_pb2_grpc

    review_all = ReviewSettings(rate=1.0, new_labeller_tasks=0, min_per_stratum=0)
    settings = embedded_settings.model_copy(
        update={"curate": CURATE, "operator_token": SecretStr(TOKEN), "label": LabelSettings(review=review_all)}
    )
    await run_pipeline(settings, uploads("grpc-cam", count=9))
    adapters = build_adapters(settings)
    async with running(adapters, ["curate", "label"]) as runner:
        accounts = Labellers(adapters.engine)
        ann = (("authorization", f"Bearer {accounts.add('ann')}"),)
        rev = (("authorization", f"Bearer {accounts.add('rev', reviewer=True)}"),)
        bob = (("authorization", f"Bearer {accounts.add('bob')}"),)
        operator = (("authorization", f"Bearer {TOKEN}"),)
        async with grpc.aio.insecure_channel(f"127.0.0.1:{runner.grpc_port}") as channel:
            health = health_pb2_grpc.HealthStub(channel)
            answer = await health.Check(health_pb2.HealthCheckRequest(service="framesift.v1.LabelService"))
            assert answer.status == health_pb2.HealthCheckResponse.SERVING
            listing = reflection_pb2_grpc.ServerReflectionStub(channel).ServerReflectionInfo(
                iter([reflection_pb2.ServerReflectionRequest(list_services="")])
            )
            assert "framesift.v1.LabelService" in [
                s.name async for r in listing for s in r.list_services_response.service
            ]

            stub = labels_pb2_grpc.LabelServiceStub(channel)

            async def code_of(call) -> grpc.StatusCode:
                try:
                    await call
                except grpc.aio.AioRpcError as exc:
                    return exc.code()
                raise AssertionError("the call succeeded")

            assert await code_of(stub.NextTask(labels_pb2.NextTaskRequest())) == grpc.StatusCode.UNAUTHENTICATED
            assert await code_of(stub.GetOntology(labels_pb2.GetOntologyRequest())) == grpc.StatusCode.NOT_FOUND
            document = labels_pb2.OntologyDocument(json=json.dumps(ONTOLOGY))
            assert await code_of(stub.SetOntology(document, metadata=ann)) == grpc.StatusCode.UNAUTHENTICATED
            made = await stub.SetOntology(document, metadata=operator)
            assert (made.version, made.changed) == (1, True)

            task = (await stub.NextTask(labels_pb2.NextTaskRequest(), metadata=ann)).task
            assert task.task_id
            assert task.state == "labelling"
            bad = labels_pb2.SubmitTaskRequest(
                task_id=task.task_id,
                annotations=[labels_pb2.Annotation(class_name="truck", box=frames_pb2.Box(x_max=0.5, y_max=0.5))],
            )
            assert await code_of(stub.SubmitTask(bad, metadata=ann)) == grpc.StatusCode.INVALID_ARGUMENT
            good = labels_pb2.SubmitTaskRequest(
                task_id=task.task_id,
                annotations=[
                    labels_pb2.Annotation(
                        class_name="car", box=frames_pb2.Box(x_min=0.1, y_min=0.1, x_max=0.5, y_max=0.5)
                    )
                ],
            )
            assert await code_of(stub.SubmitTask(good, metadata=bob)) == grpc.StatusCode.FAILED_PRECONDITION
            missing = labels_pb2.SubmitTaskRequest(task_id="no-such-task")
            assert await code_of(stub.SubmitTask(missing, metadata=ann)) == grpc.StatusCode.NOT_FOUND
            seen = await stub.GetTask(labels_pb2.GetTaskRequest(task_id=task.task_id), metadata=ann)
            assert seen.lease_holder == "ann"
            peek = stub.GetTask(labels_pb2.GetTaskRequest(task_id=task.task_id), metadata=bob)
            assert await code_of(peek) == grpc.StatusCode.FAILED_PRECONDITION  # only through a lease
            submitted = await stub.SubmitTask(good, metadata=ann)
            assert (submitted.state, submitted.review_reason) == ("review", "sampled")

            assert (
                await code_of(stub.NextReview(labels_pb2.NextReviewRequest(), metadata=bob))
                == grpc.StatusCode.PERMISSION_DENIED
            )
            reviewing = (await stub.NextReview(labels_pb2.NextReviewRequest(), metadata=rev)).task
            assert reviewing.task_id == task.task_id
            fixed = labels_pb2.Annotation(
                class_name="bicycle", box=frames_pb2.Box(x_min=0.1, y_min=0.1, x_max=0.5, y_max=0.5)
            )
            verdict = labels_pb2.ReviewTaskRequest(task_id=task.task_id, verdict="corrected", annotations=[fixed])
            done = await stub.ReviewTask(verdict, metadata=rev)
            assert done.state == "done"
            assert [a.class_name for a in done.final_annotations] == ["bicycle"]
            assert [a.class_name for a in done.annotations] == ["car"]  # the labeller's, kept

            figures = await stub.GetLabelStats(labels_pb2.GetLabelStatsRequest())
            assert (figures.overall.reviewed, figures.overall.errors) == (1, 1)
            assert figures.by_labeller["ann"].high > 0.5
            assert (
                await code_of(stub.ExportDataset(labels_pb2.ExportDatasetRequest(format="coco"), metadata=ann))
                == grpc.StatusCode.UNAUTHENTICATED
            )
            everything = labels_pb2.ExportDatasetRequest(format="yolo", query="split:train split:val split:evaluation")
            exported = await stub.ExportDataset(everything, metadata=operator)
            assert exported.dataset_id.startswith("ds-")
            assert sum(exported.frames_by_split.values()) == 1
        await eventually(
            lambda: curated_status(adapters.engine, task.frame.frame_id) == Status.LABELLED,
            timeout=30,
            what="curate to fold labels.completed",
        )
    adapters.close()
