"""Ground truth and a model's detections in COCO form, drawn from a seed: boxes of every COCO size
range, crowd regions, cameras and capture times on the images, and detections that are
jittered copies of the truth (some missed, some with the wrong class) plus false alarms. The
`skill` of the model sets how far it jitters and how often it misses."""

from __future__ import annotations

from typing import Any

import numpy as np

from framesift.contracts.splits import Split
from framesift.contracts.vocabulary import timestamp
from framesift.v1 import frames_pb2, labels_pb2

CLASSES = (
    {"id": 1, "name": "car"},
    {"id": 2, "name": "person"},
    {"id": 3, "name": "bicycle"},
    {"id": 7, "name": "bus"},
)
WIDTH, HEIGHT = 1280, 720
START = 1_764_547_200  # 2025-12-01T00:00:00Z
STRONG, WEAK = "tiny-det/2", "tiny-det/1"  # two model versions of frame_events


def ground_truth(
    images: int, *, seed: int, objects_per_image: float = 4.0, crowd: float = 0.03, cameras: int = 4
) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    entries, annotations = [], []
    for image_id in range(1, images + 1):
        entries.append(
            {
                "id": image_id,
                "file_name": f"{image_id:06d}.jpg",
                "width": WIDTH,
                "height": HEIGHT,
                "camera_id": f"cam-{image_id % cameras}",
                "captured_at": START + int(rng.integers(0, 86_400)),
            }
        )
        for _ in range(int(rng.poisson(objects_per_image))):
            side = float(np.exp(rng.uniform(np.log(8), np.log(400))))  # small, medium and large
            w, h = side * rng.uniform(0.6, 1.6), side * rng.uniform(0.6, 1.6)
            x, y = rng.uniform(0, WIDTH - w), rng.uniform(0, max(1.0, HEIGHT - h))
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": image_id,
                    "category_id": int(rng.choice([c["id"] for c in CLASSES])),
                    "bbox": [round(x, 2), round(y, 2), round(w, 2), round(min(h, HEIGHT - y), 2)],
                    "iscrowd": int(rng.random() < crowd),
                }
            )
    for annotation in annotations:
        annotation["area"] = annotation["bbox"][2] * annotation["bbox"][3]
    return {"images": entries, "categories": [dict(c) for c in CLASSES], "annotations": annotations}


def detections(truth: dict[str, Any], *, seed: int, skill: float = 0.7, false_alarms: float = 1.0) -> list[dict]:
    rng = np.random.default_rng(seed)
    ids = [c["id"] for c in CLASSES]
    found = []
    for annotation in truth["annotations"]:
        if rng.random() > skill:
            continue  # missed
        x, y, w, h = annotation["bbox"]
        jitter = (1.2 - skill) * 0.25
        box = [
            x + rng.normal(0, jitter * w),
            y + rng.normal(0, jitter * h),
            max(1.0, w * (1 + rng.normal(0, jitter))),
            max(1.0, h * (1 + rng.normal(0, jitter))),
        ]
        category = annotation["category_id"] if rng.random() < 0.9 else int(rng.choice(ids))
        score = float(np.clip(rng.beta(2 + 6 * skill, 2), 0, 1))
        found.append(_detection(annotation["image_id"], category, box, score))
    for image in truth["images"]:
        for _ in range(int(rng.poisson(false_alarms))):
            side = float(rng.uniform(10, 200))
            box = [rng.uniform(0, WIDTH - side), rng.uniform(0, HEIGHT - side), side, side]
            found.append(_detection(image["id"], int(rng.choice(ids)), box, float(rng.beta(2, 5))))
    return found


def _detection(image_id: int, category_id: int, box: list[float], score: float) -> dict[str, Any]:
    return {"image_id": image_id, "category_id": category_id, "bbox": [round(v, 2) for v in box], "score": score}


# The same frames as the pipeline's events: labels.completed (all in the evaluation split) and
# frames.embedded of two detector versions, a strong one and a weak one.
def _relative(box: list[float]) -> frames_pb2.Box:
    x, y, w, h = box
    width, height = WIDTH, HEIGHT
    return frames_pb2.Box(x_min=x / width, y_min=y / height, x_max=(x + w) / width, y_max=(y + h) / height)


def frame_events(images: int = 80, seed: int = 3):
    truth = ground_truth(images, seed=seed, crowd=0.0)
    found = {STRONG: detections(truth, seed=seed + 1, skill=0.9),
             WEAK: detections(truth, seed=seed + 2, skill=0.45)}  # fmt: skip
    names = {c["id"]: c["name"] for c in truth["categories"]}
    labels, embedded = [], []
    for image in truth["images"]:
        frame_id = f"frame-{image['id']:05d}"
        labels.append(
            labels_pb2.LabelsCompleted(
                frame_id=frame_id, camera_id=image["camera_id"], task_id=f"t-{frame_id}", ontology_version="1",
                annotations=[
                    labels_pb2.Annotation(class_name=names[a["category_id"]], class_id=a["category_id"],
                                          box=_relative(a["bbox"]))
                    for a in truth["annotations"] if a["image_id"] == image["id"]
                ],
                completed_at=timestamp(1_000.0), split=Split.EVALUATION.value,
                width=WIDTH, height=HEIGHT, captured_at=timestamp(image["captured_at"]),
            )
        )  # fmt: skip
        for model, boxes in found.items():
            name, version = model.split("/")
            embedded.append(
                frames_pb2.FrameEmbedded(
                    frame_id=frame_id, camera_id=image["camera_id"], model_name=name, model_version=version,
                    has_detector=True, metrics={"brightness": 0.4},
                    detections=[
                        frames_pb2.Detection(class_name=names[d["category_id"]], score=d["score"],
                                             box=_relative(d["bbox"]))
                        for d in boxes if d["image_id"] == image["id"]
                    ],
                )
            )  # fmt: skip
    return truth, found, labels, embedded
