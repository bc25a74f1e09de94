"""framesift's Triton model repository: what it holds and how it is read.

    <repo>/framesift.json                  model family, version, input size, embedding size,
                                           detector score threshold
    <repo>/clip_image/config.pbtxt         preprocessed frames (N,3,S,S) -> "embedding" (N,D)
    <repo>/clip_image/<version>/model.onnx
    <repo>/clip_text/...                   "tokens" (N,77) int64 -> "embedding" (N,D)   (optional)
    <repo>/clip_text/tokenizer/            tokenizer.json + BPE merges (services/embed/text)
    <repo>/detector/...                    frames -> "boxes" (N,K,4, relative xyxy), "scores" (N,K),
    <repo>/detector/classes.txt              "class_ids" (N,K); one class name per line (optional)

The same files serve the `triton` backend (Triton loads the folder) and the `local` backend
(onnxruntime in-process), so both compute the same thing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

MANIFEST = "framesift.json"
CLIP_IMAGE = "clip_image"
CLIP_TEXT = "clip_text"
DETECTOR = "detector"
DETECTOR_OUTPUTS = ["boxes", "scores", "class_ids"]  # what the detector's graph returns, in order
CLASSES_FILE = "classes.txt"  # in the detector's folder
TOKENIZER_FOLDER = "tokenizer"  # in clip_text's folder


class ModelRepositoryError(ValueError):
    """The folder is not a usable framesift model repository; the message says what is missing."""


@dataclass(frozen=True)
class ModelFiles:
    name: str
    version: int
    onnx: Path
    config: Path


@dataclass(frozen=True)
class ModelRepository:
    root: Path
    family: str  # e.g. "ViT-B-32" (stored with every vector)
    version: str  # e.g. the checkpoint's tag or hash
    input_size: int
    embedding_dim: int | None  # needed where the ONNX file is not read (the triton backend)
    clip_image: ModelFiles
    clip_text: ModelFiles | None
    detector: ModelFiles | None
    classes: tuple[str, ...]
    score_threshold: float
    # torchvision's detectors loop over images in their pre/post-processing, so they are
    # exported for one frame at a time (ONNX batch dimension fixed at 1, Triton max_batch_size 0).
    detector_per_frame: bool = False

    @classmethod
    def open(cls, root: Path) -> ModelRepository:
        manifest_path = root / MANIFEST
        if not manifest_path.is_file():
            raise ModelRepositoryError(f"{root} has no {MANIFEST}: not a framesift model repository")
        try:
            manifest = json.loads(manifest_path.read_text())
            family, version = str(manifest["family"]), str(manifest["version"])
            input_size = int(manifest["input_size"])
            embedding_dim = int(manifest["embedding_dim"]) if "embedding_dim" in manifest else None
            detector_manifest = manifest.get("detector", {})
            threshold = float(detector_manifest.get("score_threshold", 0.25))
            per_frame = bool(detector_manifest.get("per_frame", False))
        except (ValueError, KeyError, TypeError) as exc:
            raise ModelRepositoryError(f"{manifest_path}: {exc!r}") from exc
        clip_image = _model(root, CLIP_IMAGE)
        if clip_image is None:
            raise ModelRepositoryError(f"{root} has no {CLIP_IMAGE} model (config.pbtxt and <version>/model.onnx)")
        detector = _model(root, DETECTOR)
        classes: tuple[str, ...] = ()
        if detector is not None:
            names = root / DETECTOR / CLASSES_FILE
            if not names.is_file():
                raise ModelRepositoryError(f"{names} is missing: the detector's class names")
            classes = tuple(line.strip() for line in names.read_text().splitlines() if line.strip())
        clip_text = _model(root, CLIP_TEXT)
        return cls(
            root,
            family,
            version,
            input_size,
            embedding_dim,
            clip_image,
            clip_text,
            detector,
            classes,
            threshold,
            per_frame,
        )

    @property
    def tokenizer_folder(self) -> Path:
        return self.root / CLIP_TEXT / TOKENIZER_FOLDER


def model_files(root: Path, name: str, version: int = 1) -> ModelFiles:
    """Where a model's files are in Triton's layout (the export writes version 1)."""
    folder = root / name
    return ModelFiles(name, version, folder / str(version) / "model.onnx", folder / "config.pbtxt")


def _model(root: Path, name: str) -> ModelFiles | None:
    folder = root / name
    if not folder.is_dir():
        return None
    versions = sorted(int(p.name) for p in folder.iterdir() if p.is_dir() and p.name.isdigit())
    if not (folder / "config.pbtxt").is_file() or not versions:
        raise ModelRepositoryError(f"{folder} needs config.pbtxt and a numbered version folder")
    files = model_files(root, name, versions[-1])  # Triton's default policy: the latest version
    if not files.onnx.is_file():
        raise ModelRepositoryError(f"{files.onnx} is missing")
    return files
