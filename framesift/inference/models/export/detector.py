"""torchvision detector (a checkpoint file) -> the repository's `detector` ONNX file and class names.

The exported graph takes the same CLIP-normalised frames as clip_image, undoes CLIP's
normalisation and lets the detector's own transform do the rest; it returns a fixed number of
detections per frame (padded with score 0), boxes relative to the frame. torchvision's detectors
loop over images in their transforms, so the file takes one frame per call (`per_frame`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torchvision.models import detection, get_model, get_model_weights, list_models

from ...preprocess import CLIP_MEAN, CLIP_STD
from ..configs import Device, detector_config
from ..repository import CLASSES_FILE, DETECTOR, DETECTOR_OUTPUTS, model_files
from .clip import ExportError
from .onnx_files import export_onnx

MAX_DETECTIONS = 100


@dataclass(frozen=True)
class LoadedDetector:
    model: torch.nn.Module
    name: str
    checkpoint: Path
    classes: tuple[str, ...]  # index = the model's class id


def load_detector(name: str, checkpoint: Path, classes_file: Path | None = None) -> LoadedDetector:
    """`classes_file`: one name per line, in the model's class id order (background first).

    Without it, the class names of torchvision's own weights for `name` (COCO), for checkpoints
    that are those weights.
    """
    if name not in list_models(module=detection):
        raise ExportError(f"unknown torchvision detector {name!r}; one of {', '.join(list_models(module=detection))}")
    if classes_file is not None:
        classes = tuple(line.strip() for line in classes_file.read_text().splitlines() if line.strip())
    else:
        classes = tuple(get_model_weights(name).DEFAULT.meta["categories"])
    if not checkpoint.is_file():
        raise ExportError(f"detector checkpoint {checkpoint} is not a file")
    state = torch.load(checkpoint, map_location="cpu", weights_only=True)
    state = state.get("model", state) if isinstance(state, dict) else state
    model = get_model(name, weights=None, weights_backbone=None, num_classes=len(classes))
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:
        raise ExportError(
            f"{checkpoint} does not fit {name} with {len(classes)} classes (pass the checkpoint's class list): {exc}"
        ) from exc
    if hasattr(model, "detections_per_img"):
        model.detections_per_img = MAX_DETECTIONS
    model.eval()
    return LoadedDetector(model, name, checkpoint, classes)


class DetectorForFrames(torch.nn.Module):
    """(1, 3, S, S) CLIP-normalised -> boxes (1, K, 4) relative xyxy, scores (1, K), class_ids (1, K)."""

    def __init__(self, model: torch.nn.Module, size: int) -> None:
        super().__init__()
        self.model = model
        self.size = size
        self.register_buffer("mean", torch.from_numpy(CLIP_MEAN).view(3, 1, 1))
        self.register_buffer("std", torch.from_numpy(CLIP_STD).view(3, 1, 1))

    def forward(self, pixels: torch.Tensor):
        rgb = (pixels[0] * self.std + self.mean).clamp(0.0, 1.0)
        found = self.model([rgb])[0]
        boxes = torch.cat([found["boxes"] / self.size, torch.zeros(MAX_DETECTIONS, 4)])[:MAX_DETECTIONS]
        scores = torch.cat([found["scores"], torch.zeros(MAX_DETECTIONS)])[:MAX_DETECTIONS]
        labels = torch.cat([found["labels"], torch.zeros(MAX_DETECTIONS, dtype=torch.int64)])[:MAX_DETECTIONS]
        return boxes[None], scores[None], labels[None]


def write_detector(detector: LoadedDetector, root: Path, *, input_size: int, device: Device) -> None:
    files = model_files(root, DETECTOR)
    export_onnx(
        DetectorForFrames(detector.model, input_size),
        (torch.zeros(1, 3, input_size, input_size),),
        files.onnx,
        inputs=["pixels"],
        outputs=DETECTOR_OUTPUTS,
        dynamic={},
    )
    files.config.write_text(detector_config(input_size, per_frame=True, device=device))
    (root / DETECTOR / CLASSES_FILE).write_text("\n".join(detector.classes) + "\n")
