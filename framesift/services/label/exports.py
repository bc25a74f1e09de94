"""Exports from framesift's own data (never a labelling tool's exporter): COCO, YOLO and Label
Studio JSON, by query and split, each an immutable dataset version.

Layout of an export (relative paths; the same inside a directory or under an object-store prefix):
    manifest.json                       what it holds, every file's sha-256, the dataset id
    images/<frame_id>.<ext>             the frames (unless exported without images)
    coco/<split>.json                   file_name is images/<frame_id>.<ext> (or the object key)
    yolo/classes.txt, yolo/data.yaml    classes in id order; YOLO index = line number
    yolo/labels/<split>/<frame_id>.txt  "index cx cy w h", normalised
    yolo/<split>.txt                    the split's image paths
    label-studio/<split>.json           tasks with annotations (percent coordinates)

The dataset id is the hash of the content (annotations, images, ontology version), so the same
labels exported twice name the same dataset; a training run records the id and manifest hash.
The evaluation split is exported only when asked for by name, never with train and val.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol

import sqlalchemy as sa
import yaml
from sqlalchemy import Connection, Engine

from framesift.contracts.identifiers import checked_key
from framesift.contracts.splits import TRAINING_SPLITS, Split, SplitSettings
from framesift.sql.columns import insert_for
from framesift.store.base import ObjectStore

from .completed import final_annotations, task_split
from .desk import TASKS, TaskState
from .ontology import ClassKind, Ontology
from .ontology_store import latest
from .tables import LabelDataset

DATASETS = LabelDataset.__table__


class ExportFormat(StrEnum):
    COCO = "coco"
    YOLO = "yolo"
    LABEL_STUDIO = "label-studio"


class ExportError(ValueError):
    """An export that cannot be made as asked (an unknown query term, nothing labelled yet)."""


@dataclass(frozen=True)
class ExportQuery:
    camera: str | None = None
    label_class: str | None = None  # frames with at least one annotation of this class
    batch: str | None = None
    since: float | None = None  # capture time, seconds since the epoch
    until: float | None = None
    splits: tuple[Split, ...] = TRAINING_SPLITS

    @classmethod
    def parse(cls, terms: Iterable[str]) -> ExportQuery:
        """`camera:cam-1 class:car batch:w1 split:val since:1795000000 until:...`"""
        given: dict[str, Any] = {}
        splits: list[Split] = []
        for term in terms:
            key, _, value = term.partition(":")
            if not value:
                raise ExportError(
                    f"query term {term!r}: expected key:value (camera, class, batch, split, since, until)"
                )
            if key == "split":
                try:
                    splits.append(Split(value))
                except ValueError:
                    raise ExportError(f"split {value!r}: one of train, val, evaluation") from None
            elif key in ("since", "until"):
                try:
                    given[key] = float(value)
                except ValueError:
                    raise ExportError(f"{key} {value!r}: seconds since the epoch") from None
            elif key in ("camera", "class", "batch"):
                given["label_class" if key == "class" else key] = value
            else:
                raise ExportError(f"unknown query key {key!r}: use camera, class, batch, split, since, until")
        return cls(**given, splits=tuple(splits) or TRAINING_SPLITS)

    def text(self) -> str:
        parts = [f"camera:{self.camera}"] if self.camera else []
        parts += [f"class:{self.label_class}"] if self.label_class else []
        parts += [f"batch:{self.batch}"] if self.batch else []
        parts += [f"since:{self.since:g}"] if self.since is not None else []
        parts += [f"until:{self.until:g}"] if self.until is not None else []
        return " ".join([*parts, *(f"split:{s.value}" for s in self.splits)])


@dataclass(frozen=True)
class ExportedFrame:
    frame_id: str
    camera_id: str
    captured_at: float
    object_key: str
    width: int
    height: int
    split: Split
    annotations: list[dict[str, Any]]
    frame_classes: list[str]
    ontology_version: int

    @property
    def image_name(self) -> str:
        return f"{self.frame_id}.{self.object_key.rsplit('.', 1)[-1]}"


@dataclass
class Export:
    """The files of one export, before they are written anywhere."""

    files: dict[str, bytes] = field(default_factory=dict)
    images: dict[str, str] = field(default_factory=dict)  # relative path -> object key to copy
    manifest: dict[str, Any] = field(default_factory=dict)

    @property
    def dataset_id(self) -> str:
        return self.manifest["dataset_id"]

    @property
    def manifest_bytes(self) -> bytes:
        return json.dumps(self.manifest, indent=2, sort_keys=True).encode()

    @property
    def manifest_sha256(self) -> str:
        return hashlib.sha256(self.manifest_bytes).hexdigest()


def frames(connection: Connection, query: ExportQuery, splits: SplitSettings) -> list[ExportedFrame]:
    """The done tasks the query names, in the requested splits, by frame id."""
    select = sa.select(TASKS).where(TASKS.c.state == TaskState.DONE.value)
    if query.camera:
        select = select.where(TASKS.c.camera_id == query.camera)
    if query.batch:
        select = select.where(TASKS.c.selection_batch == query.batch)
    if query.since is not None:
        select = select.where(TASKS.c.captured_at >= query.since)
    if query.until is not None:
        select = select.where(TASKS.c.captured_at < query.until)
    found = []
    for task in connection.execute(select.order_by(TASKS.c.frame_id)).mappings():
        split = task_split(dict(task), splits)
        labels = final_annotations(dict(task))
        if split not in query.splits:
            continue
        if query.label_class and not any(a["class"] == query.label_class for a in labels):
            continue
        found.append(
            ExportedFrame(
                task["frame_id"], task["camera_id"], task["captured_at"], task["object_key"], task["width"],
                task["height"], split, labels, task["frame_classes"], task["ontology_version"],
            )
        )  # fmt: skip
    return found


def build(
    kind: ExportFormat,
    exported: Sequence[ExportedFrame],
    ontology: Ontology,
    query: ExportQuery,
    *,
    with_images: bool = True,
) -> Export:
    if not exported:
        raise ExportError(f"nothing labelled matches {query.text()!r}")
    export = Export()
    if with_images:
        export.images = {f"images/{f.image_name}": f.object_key for f in exported}
    by_split: dict[Split, list[ExportedFrame]] = {}
    for frame in exported:
        by_split.setdefault(frame.split, []).append(frame)
    writer = {ExportFormat.COCO: _coco, ExportFormat.YOLO: _yolo, ExportFormat.LABEL_STUDIO: _label_studio}[kind]
    writer(export, by_split, ontology, with_images)
    content = hashlib.sha256()
    for path in sorted(export.files):
        content.update(f"{path}\0{hashlib.sha256(export.files[path]).hexdigest()}\0".encode())
    for path in sorted(export.images):
        content.update(f"{path}\0{export.images[path]}\0".encode())  # content-addressed keys
    content.update(f"ontology {ontology.version}".encode())
    export.manifest = {
        "dataset_id": f"ds-{content.hexdigest()[:20]}",
        "format": kind.value,
        "query": query.text(),
        "ontology_version": ontology.version,
        "frames": {split.value: len(items) for split, items in sorted(by_split.items())},
        "annotations": sum(len(f.annotations) for f in exported),
        "images": "included" if with_images else "object keys (the frames stay in the object store)",
        "files": {path: hashlib.sha256(data).hexdigest() for path, data in sorted(export.files.items())},
        "image_keys": dict(sorted(export.images.items())),
    }
    return export


def _box_classes(ontology: Ontology):
    """Every box class ever (retired ones too, so ids and YOLO indices never move), by id."""
    return [c for c in ontology.classes if c.kind == ClassKind.BOX]


def _name(ontology: Ontology, annotation: Mapping[str, Any]) -> str:
    return ontology.map_id(int(annotation["class_id"])).name  # the latest name of the id it was given


def _pixels(annotation: Mapping[str, Any], frame: ExportedFrame) -> list[float]:
    x0, y0, x1, y1 = annotation["box"]
    w, h = frame.width, frame.height
    return [round(x0 * w, 3), round(y0 * h, 3), round((x1 - x0) * w, 3), round((y1 - y0) * h, 3)]


def _image_path(frame: ExportedFrame, with_images: bool) -> str:
    return f"images/{frame.image_name}" if with_images else frame.object_key


def _coco(export: Export, by_split, ontology: Ontology, with_images: bool) -> None:
    categories = [
        {"id": c.id, "name": c.name, "supercategory": "", "display_name": c.title, "retired": c.retired}
        for c in _box_classes(ontology)
    ]
    for split, items in by_split.items():
        images, annotations = [], []
        for image_id, frame in enumerate(items, start=1):
            images.append(
                {
                    "id": image_id,
                    "file_name": _image_path(frame, with_images),
                    "width": frame.width,
                    "height": frame.height,
                    "frame_id": frame.frame_id,
                    "camera_id": frame.camera_id,
                    "captured_at": frame.captured_at,
                    "frame_classes": frame.frame_classes,
                    "ontology_version": frame.ontology_version,
                }
            )
            for a in frame.annotations:
                bbox = _pixels(a, frame)
                annotations.append(
                    {
                        "id": len(annotations) + 1,
                        "image_id": image_id,
                        "category_id": int(a["class_id"]),
                        "bbox": bbox,
                        "area": round(bbox[2] * bbox[3], 3),
                        "iscrowd": 0,
                        "attributes": a["attributes"],
                        "track_id": a["track_id"],
                    }
                )
        document = {
            "info": {"description": f"framesift export, split {split.value}", "ontology_version": ontology.version},
            "images": images,
            "annotations": annotations,
            "categories": categories,
        }
        export.files[f"coco/{split.value}.json"] = json.dumps(document, separators=(",", ":")).encode()


def _yolo(export: Export, by_split, ontology: Ontology, with_images: bool) -> None:
    classes = _box_classes(ontology)
    index = {c.id: i for i, c in enumerate(classes)}
    export.files["yolo/classes.txt"] = "".join(f"{c.name}\n" for c in classes).encode()
    data: dict[str, Any] = {"path": "..", "names": {i: c.name for i, c in enumerate(classes)}}
    for split, items in by_split.items():
        data[split.value] = f"yolo/{split.value}.txt"
        export.files[f"yolo/{split.value}.txt"] = "".join(f"{_image_path(f, with_images)}\n" for f in items).encode()
        for frame in items:
            lines = []
            for a in frame.annotations:
                x0, y0, x1, y1 = a["box"]
                cx, cy, w, h = (x0 + x1) / 2, (y0 + y1) / 2, x1 - x0, y1 - y0
                lines.append(f"{index[int(a['class_id'])]} {cx:.6f} {cy:.6f} {w:.6f} {h:.6f}\n")
            export.files[f"yolo/labels/{split.value}/{frame.frame_id}.txt"] = "".join(lines).encode()
    export.files["yolo/data.yaml"] = yaml.safe_dump(data, sort_keys=False).encode()


def _label_studio(export: Export, by_split, ontology: Ontology, with_images: bool) -> None:
    for split, items in by_split.items():
        tasks = []
        for frame in items:
            result: list[dict[str, Any]] = []
            for n, a in enumerate(frame.annotations):
                region = f"{frame.frame_id[:8]}-{n}"
                x0, y0, x1, y1 = a["box"]
                common = {"id": region, "to_name": "image", "original_width": frame.width,
                          "original_height": frame.height, "image_rotation": 0}  # fmt: skip
                value = {"x": x0 * 100, "y": y0 * 100, "width": (x1 - x0) * 100, "height": (y1 - y0) * 100,
                         "rotation": 0, "rectanglelabels": [_name(ontology, a)]}  # fmt: skip
                result.append({**common, "from_name": "label", "type": "rectanglelabels", "value": value})
                for attribute, chosen in sorted(a["attributes"].items()):
                    choice = {**value, "choices": [chosen]}
                    choice.pop("rectanglelabels")
                    result.append({**common, "from_name": attribute, "type": "choices", "value": choice})
                if a["track_id"]:
                    track = {**value, "text": [a["track_id"]]}
                    track.pop("rectanglelabels")
                    result.append({**common, "from_name": "track_id", "type": "textarea", "value": track})
            if frame.frame_classes:
                result.append({"id": f"{frame.frame_id[:8]}-frame", "from_name": "frame", "to_name": "image",
                               "type": "choices", "value": {"choices": frame.frame_classes}})  # fmt: skip
            tasks.append(
                {
                    "data": {
                        "image": _image_path(frame, with_images),
                        "frame_id": frame.frame_id,
                        "camera_id": frame.camera_id,
                    },
                    "annotations": [{"result": result, "ground_truth": False}],
                    "meta": {"ontology_version": frame.ontology_version, "split": split.value},
                }
            )
        export.files[f"label-studio/{split.value}.json"] = json.dumps(tasks, separators=(",", ":")).encode()


class Sink(Protocol):
    async def write(self, path: str, data: bytes) -> None: ...

    async def write_all(self, files: Mapping[str, bytes]) -> None: ...


class DirectorySink:
    """An export directory: new or empty (an export is immutable; it never overwrites another)."""

    def __init__(self, root: Path) -> None:
        if root.exists() and (not root.is_dir() or any(root.iterdir())):
            raise ExportError(f"{root} exists and is not an empty directory: exports never overwrite")
        self.root = root

    async def write(self, path: str, data: bytes) -> None:
        await self.write_all({path: data})

    async def write_all(self, files: Mapping[str, bytes]) -> None:
        """In one worker thread: YOLO's one small file per frame would otherwise pay a thread
        hop each."""
        await asyncio.to_thread(self._write_files, files)

    def _write_files(self, files: Mapping[str, bytes]) -> None:
        made: set[Path] = set()
        for path, data in files.items():
            target = self.root / checked_key(path)
            if target.parent not in made:
                target.parent.mkdir(parents=True, exist_ok=True)
                made.add(target.parent)
            target.write_bytes(data)


class StoreSink:
    """Under exports/<dataset id>/ in the object store (what the API writes; every replica reads it)."""

    def __init__(self, store: ObjectStore, dataset_id: str) -> None:
        self.store, self.prefix = store, f"{EXPORTS_PREFIX}/{dataset_id}"

    async def write(self, path: str, data: bytes) -> None:
        kind = "application/json" if path.endswith(".json") else "application/octet-stream"
        await self.store.put(checked_key(f"{self.prefix}/{path}"), data, kind)

    async def write_all(self, files: Mapping[str, bytes], concurrency: int = 8) -> None:
        gate = asyncio.Semaphore(concurrency)

        async def put(path: str, data: bytes) -> None:
            async with gate:
                await self.write(path, data)

        await asyncio.gather(*(put(path, data) for path, data in files.items()))


EXPORTS_PREFIX = "exports"


async def write(export: Export, sink: Sink, store: ObjectStore, *, concurrency: int = 8) -> None:
    """Every file, the images read from the store, then the manifest last (its presence says the
    export is complete)."""
    await sink.write_all(export.files)
    gate = asyncio.Semaphore(concurrency)

    async def copy(path: str, key: str) -> None:
        async with gate:
            await sink.write(path, await store.get(key))

    await asyncio.gather(*(copy(path, key) for path, key in export.images.items()))
    await sink.write("manifest.json", export.manifest_bytes)


async def export_dataset(
    engine: Engine,
    store: ObjectStore,
    splits: SplitSettings,
    kind: ExportFormat,
    query: ExportQuery,
    sink: Callable[[str], tuple[Sink, str]],
    *,
    with_images: bool = True,
    now: float,
) -> Export:
    """Build the export the query names, write it where `sink(dataset_id)` says (a sink and its
    location in words), and record the dataset version."""

    def read() -> tuple[list[ExportedFrame], Ontology]:
        with engine.connect() as connection:
            ontology = latest(connection)
            if ontology is None:
                raise ExportError("no ontology yet: nothing can have been labelled")
            return frames(connection, query, splits), ontology

    exported, ontology = await asyncio.to_thread(read)
    export = build(kind, exported, ontology, query, with_images=with_images)
    target, location = sink(export.dataset_id)
    await write(export, target, store)
    await asyncio.to_thread(_record, engine, export, location, now)
    return export


def _record(engine: Engine, export: Export, location: str, now: float) -> None:
    """The same content exported again is the same dataset: the first record stays."""
    row = {
        "dataset_id": export.dataset_id,
        "manifest_sha256": export.manifest_sha256,
        "format": export.manifest["format"],
        "query": export.manifest["query"],
        "ontology_version": export.manifest["ontology_version"],
        "frames": sum(export.manifest["frames"].values()),
        "annotations": export.manifest["annotations"],
        "location": location,
        "created_at": now,
    }
    with engine.begin() as connection:
        connection.execute(
            insert_for(connection.dialect.name, DATASETS)
            .values(**row)
            .on_conflict_do_nothing(index_elements=["dataset_id"])
        )


def datasets(connection: Connection) -> list[dict[str, Any]]:
    rows = connection.execute(sa.select(DATASETS).order_by(DATASETS.c.created_at.desc())).mappings()
    return [dict(r) for r in rows]
