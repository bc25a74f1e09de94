"""Exports from framesift's data: COCO (read back by pycocotools), YOLO and Label Studio JSON,
by query and split, across ontology versions, as immutable dataset versions; the same labels
read back from each format."""

from __future__ import annotations

import asyncio
import hashlib
import json
import time

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from pycocotools.coco import COCO

from framesift.app.cli import main
from framesift.contracts.splits import Split, SplitSettings
from framesift.contracts.vocabulary import timestamp
from framesift.services.label import exports
from framesift.services.label.desk import LabelDesk, create_task
from framesift.services.label.exports import DirectorySink, ExportError, ExportFormat, ExportQuery
from framesift.services.label.ontology import parse
from framesift.services.label.ontology_store import apply
from framesift.services.label.settings import LabelSettings, ReviewSettings
from framesift.v1 import frames_pb2

SPLITS = SplitSettings(evaluation=0.2, val=0.2)
V1 = {"classes": [{"name": "car", "attributes": ["occluded"]}, {"name": "person"}, {"name": "night", "kind": "frame"}]}
V2 = {"classes": [
    {"id": 1, "name": "vehicle", "attributes": ["occluded"]}, {"id": 2, "name": "person", "retired": True},
    {"id": 3, "name": "night", "kind": "frame"}, {"name": "bus"},
]}  # fmt: skip
FRAMES = [f"frame-{i:02d}" for i in range(30)]


def key_of(frame_id: str) -> str:
    digest = hashlib.sha256(frame_id.encode()).hexdigest()
    return f"frames/cam-{int(frame_id[-2:]) % 2}/{digest[:2]}/{digest}.jpg"


def selected(frame_id: str) -> frames_pb2.FrameSelected:
    camera = f"cam-{int(frame_id[-2:]) % 2}"
    return frames_pb2.FrameSelected(
        frame_id=frame_id,
        camera_id=camera,
        frame=frames_pb2.FrameRef(
            frame_id=frame_id, camera_id=camera, captured_at=timestamp(1_795_000_000.0 + int(frame_id[-2:])),
            object_key=key_of(frame_id), sha256="a" * 64,
        ),
        priority=frames_pb2.Priority(total=1 - int(frame_id[-2:]) / 100),
        selection_batch="w1",
        width=640,
        height=360,
    )  # fmt: skip


def labels_for(index: int, version: int) -> list[dict]:
    """Half the frames labelled under v1 (car, person), half under v2 (vehicle, bus)."""
    first = "car" if version == 1 else "vehicle"
    other = "person" if version == 1 else "bus"
    boxes = [
        {
            "class": first,
            "box": [0.1, 0.1 + index / 100, 0.3, 0.4],
            "attributes": {"occluded": "true"},
            "track_id": f"t{index}",
        },
        {"class": other, "box": [0.5, 0.5, 0.55 + index / 200, 0.9]},
    ]
    return boxes[: 1 + index % 2]


@pytest.fixture
async def labelled(embedded_adapters):
    """30 done tasks over two ontology versions, with their images in the store."""
    adapters = embedded_adapters
    engine = adapters.engine
    desk = LabelDesk(engine, LabelSettings(review=ReviewSettings(rate=0, new_labeller_tasks=0, min_per_stratum=0)))
    with engine.begin() as connection:
        apply(connection, parse(V1), author="test", now=1.0)
        for frame_id in FRAMES:
            create_task(connection, selected(frame_id), 1.0, SPLITS)
    for frame_id in FRAMES:
        await adapters.store.put(key_of(frame_id), f"jpeg of {frame_id}".encode(), "image/jpeg")
    expected = {}
    for i in range(30):
        if i == 15:
            with engine.begin() as connection:
                apply(connection, parse(V2), author="test", now=2.0)
        task = desk.next_task("ann")
        given = labels_for(int(task["frame_id"][-2:]), 1 if i < 15 else 2)
        done = desk.submit("ann", task["task_id"], given, ["night"] if i % 3 == 0 else []).task
        expected[task["frame_id"]] = done
    return adapters, expected


def export_to(adapters, directory, kind: ExportFormat, terms=(), *, images: bool = True):
    sink = DirectorySink(directory)
    return exports.export_dataset(
        adapters.engine, adapters.store, SPLITS, kind, ExportQuery.parse(terms), lambda _id: (sink, str(directory)),
        with_images=images, now=time.time(),
    )  # fmt: skip


def relative(bbox, width=640, height=360) -> list[float]:
    x, y, w, h = bbox
    return [x / width, y / height, (x + w) / width, (y + h) / height]


def stored_splits(adapters) -> dict[str, str]:
    """Each frame's split as label chose it when it made the task (stratified, stored)."""
    with adapters.engine.connect() as connection:
        return dict(connection.execute(sa.text("SELECT frame_id, split FROM label_tasks")).all())


def in_splits(adapters, splits) -> set[str]:
    return {f for f, split in stored_splits(adapters).items() if Split(split) in splits}


async def test_coco_loads_in_pycocotools_with_ontology_ids_across_versions(labelled, tmp_path) -> None:
    adapters, expected = labelled
    made = await export_to(adapters, tmp_path / "coco", ExportFormat.COCO)
    assert set(made.manifest["frames"]) <= {"train", "val"}  # evaluation is never exported for training
    seen = {}
    for split in made.manifest["frames"]:
        coco = COCO(str(tmp_path / "coco" / "coco" / f"{split}.json"))
        assert {c["id"]: c["name"] for c in coco.loadCats(coco.getCatIds())} == {1: "vehicle", 2: "person", 4: "bus"}
        for image in coco.loadImgs(coco.getImgIds()):
            assert (tmp_path / "coco" / image["file_name"]).read_bytes() == f"jpeg of {image['frame_id']}".encode()
            assert stored_splits(adapters)[image["frame_id"]] == split
            anns = coco.loadAnns(coco.getAnnIds(imgIds=[image["id"]]))
            seen[image["frame_id"]] = [
                (a["category_id"], relative(a["bbox"]), a["attributes"], a["track_id"]) for a in anns
            ]
    assert set(seen) == in_splits(adapters, {Split.TRAIN, Split.VAL})
    for frame_id, found in seen.items():
        stored = expected[frame_id]["annotations"]
        assert [(c, a, t) for c, _, a, t in found] == [(a["class_id"], a["attributes"], a["track_id"]) for a in stored]
        for (_, box, _, _), a in zip(found, stored, strict=True):
            assert box == pytest.approx(a["box"], abs=1e-5)
    # "car" labelled under v1 is exported by its id under today's name.
    manifest = json.loads((tmp_path / "coco" / "manifest.json").read_text())
    assert manifest["dataset_id"] == made.dataset_id
    assert manifest["ontology_version"] == 2


async def test_yolo_classes_in_id_order_and_boxes_read_back(labelled, tmp_path) -> None:
    adapters, expected = labelled
    made = await export_to(adapters, tmp_path / "yolo", ExportFormat.YOLO, ["split:val"])
    root = tmp_path / "yolo"
    assert (root / "yolo" / "classes.txt").read_text().split() == ["vehicle", "person", "bus"]  # ids 1, 2, 4
    index_to_id = {0: 1, 1: 2, 2: 4}
    val = in_splits(adapters, {Split.VAL})
    assert set(made.manifest["frames"]) == {"val"}
    assert sorted(p.stem for p in (root / "yolo" / "labels" / "val").iterdir()) == sorted(val)
    for frame_id in val:
        lines = (root / "yolo" / "labels" / "val" / f"{frame_id}.txt").read_text().splitlines()
        stored = expected[frame_id]["annotations"]
        assert len(lines) == len(stored)
        for line, a in zip(lines, stored, strict=True):
            index, cx, cy, w, h = line.split()
            assert index_to_id[int(index)] == a["class_id"]
            box = [
                float(cx) - float(w) / 2,
                float(cy) - float(h) / 2,
                float(cx) + float(w) / 2,
                float(cy) + float(h) / 2,
            ]
            assert box == pytest.approx(a["box"], abs=2e-6)
    listed = (root / "yolo" / "val.txt").read_text().split()
    assert all((root / path).exists() for path in listed)


async def test_label_studio_json_reads_back_and_the_evaluation_split_only_by_name(labelled, tmp_path) -> None:
    adapters, expected = labelled
    made = await export_to(adapters, tmp_path / "ls", ExportFormat.LABEL_STUDIO, ["split:evaluation"])
    assert set(made.manifest["frames"]) == {"evaluation"}
    tasks = json.loads((tmp_path / "ls" / "label-studio" / "evaluation.json").read_text())
    assert {t["data"]["frame_id"] for t in tasks} == in_splits(adapters, {Split.EVALUATION})
    names = {1: "vehicle", 2: "person", 4: "bus"}
    for task in tasks:
        result = task["annotations"][0]["result"]
        boxes = [r for r in result if r["type"] == "rectanglelabels"]
        stored = expected[task["data"]["frame_id"]]
        assert [b["value"]["rectanglelabels"] for b in boxes] == [[names[a["class_id"]]] for a in stored["annotations"]]
        for b, a in zip(boxes, stored["annotations"], strict=True):
            v = b["value"]
            box = [v["x"] / 100, v["y"] / 100, (v["x"] + v["width"]) / 100, (v["y"] + v["height"]) / 100]
            assert box == pytest.approx(a["box"], abs=1e-9)
        frame = [r["value"]["choices"] for r in result if r["from_name"] == "frame"]
        assert frame == ([stored["frame_classes"]] if stored["frame_classes"] else [])


async def test_a_dataset_version_is_its_content_and_never_overwritten(labelled, tmp_path) -> None:
    adapters, _ = labelled
    first = await export_to(adapters, tmp_path / "a", ExportFormat.COCO)
    again = await export_to(adapters, tmp_path / "b", ExportFormat.COCO)
    assert again.dataset_id == first.dataset_id  # the same labels name the same dataset
    camera = await export_to(adapters, tmp_path / "c", ExportFormat.COCO, ["camera:cam-1"])
    assert camera.dataset_id != first.dataset_id
    with pytest.raises(ExportError, match="never overwrite"):
        DirectorySink(tmp_path / "a")
    with pytest.raises(ExportError, match="nothing labelled"):
        await export_to(adapters, tmp_path / "d", ExportFormat.COCO, ["camera:nope"])
    with pytest.raises(ExportError, match="unknown query key"):
        ExportQuery.parse(["colour:red"])
    with adapters.engine.connect() as connection:
        recorded = connection.execute(sa.text("SELECT dataset_id, frames FROM label_datasets")).all()
    assert {r.dataset_id for r in recorded} == {first.dataset_id, camera.dataset_id}
    bare = await export_to(adapters, tmp_path / "e", ExportFormat.COCO, images=False)
    document = json.loads((tmp_path / "e" / "coco" / "train.json").read_text())
    assert all(image["file_name"].startswith("frames/") for image in document["images"])  # the object key
    assert not (tmp_path / "e" / "images").exists()
    assert bare.dataset_id != first.dataset_id


async def test_the_cli_exports_to_a_new_directory(labelled, tmp_path, monkeypatch) -> None:
    adapters, _ = labelled
    monkeypatch.setenv("FRAMESIFT_DATA_DIR", str(adapters.settings.data_dir))
    monkeypatch.setenv("FRAMESIFT_SPLITS__VAL", "0.2")
    monkeypatch.setenv("FRAMESIFT_SPLITS__EVALUATION", "0.2")
    runner = CliRunner()
    out = tmp_path / "cli-export"
    args = ["label", "export", "--format", "yolo", "--out", str(out), "camera:cam-0"]
    done = await asyncio.to_thread(runner.invoke, main, args)
    assert done.exit_code == 0, done.output
    assert done.output.startswith("dataset ds-")
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["query"] == "camera:cam-0 split:train split:val"
    assert sum(manifest["frames"].values()) == len(
        [f for f in in_splits(adapters, {Split.TRAIN, Split.VAL}) if int(f[-2:]) % 2 == 0]
    )
    again = await asyncio.to_thread(runner.invoke, main, args)
    assert again.exit_code != 0
    assert "never overwrite" in again.output
    bad = await asyncio.to_thread(runner.invoke, main, [*args[:5], str(tmp_path / "x"), "split:test"])
    assert "one of train, val, evaluation" in bad.output
