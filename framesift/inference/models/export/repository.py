"""Writes a whole model repository, validates it by running it, and only then puts it in place."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from ..configs import Batching, Device
from ..repository import MANIFEST
from .clip import ExportError, LoadedClip, write_clip
from .detector import LoadedDetector, write_detector
from .validate import Validation, validate


@dataclass(frozen=True)
class ExportOptions:
    device: Device = Device.CPU
    batching: Batching = field(default_factory=Batching)
    score_threshold: float = 0.5
    version: str | None = None  # default: the checkpoint's file name or tag


def export_repository(
    clip: LoadedClip, detector: LoadedDetector | None, out: Path, options: ExportOptions | None = None
) -> Validation:
    """Writes `out` (which must not exist yet) from loaded weights; returns what the validation measured."""
    options = options or ExportOptions()
    if out.exists():
        raise ExportError(f"{out} already exists; remove it or choose another folder")
    staging = out.with_name(out.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        write_clip(clip, staging, device=options.device, batching=options.batching)
        if detector is not None:
            write_detector(detector, staging, input_size=clip.input_size, device=options.device)
        manifest = {
            "family": clip.name,
            "version": options.version or Path(clip.checkpoint).name,
            "input_size": clip.input_size,
            "embedding_dim": clip.embedding_dim,
            "text": {"context_length": clip.context_length},
            "sources": {
                "clip": {"model": clip.name, "checkpoint": Path(clip.checkpoint).name},
                **({"detector": {"model": detector.name, "checkpoint": detector.checkpoint.name}} if detector else {}),
            },
        }
        if detector is not None:
            manifest["detector"] = {"score_threshold": options.score_threshold, "per_frame": True}
        (staging / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
        result = validate(staging, clip, detector)
        staging.rename(out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return result
