"""`framesift scan`: the quality checks over a folder, without any server.

Files are assessed in parallel (worker processes) but judged for duplicates in input order,
so the result is the same for any number of workers: the first of a set of duplicates is kept.
Sizes are judged against the file's folder: every file's header is read first, so the first
files of a folder are judged against the same usual size as the last.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image

from framesift.contracts.vocabulary import Reason
from framesift.services.quality.settings import QualityThresholds

from .assess import Assessment, assess
from .duplicates import MemoryDuplicates
from .sizes import FolderSizes, FrameSize
from .verdict import judge

# What a folder of images holds; other files (labels, manifests) are skipped and counted.
IMAGE_SUFFIXES = frozenset(
    [
        ".jpg",
        ".jpeg",
        ".jpe",
        ".jfif",
        ".png",
        ".webp",
        ".gif",
        ".bmp",
        ".tif",
        ".tiff",
        ".avif",
        ".heic",
        ".heif",
        ".ppm",
        ".pgm",
        ".pnm",
    ]
)
_CHUNK = 16


@dataclass(frozen=True)
class ScanItem:
    path: str
    status: str  # "ok" | "rejected"
    reasons: tuple[str, ...]
    duplicate_of: str | None
    metrics: dict[str, float]
    detail: str | None = None

    def as_json(self) -> dict[str, object]:
        document: dict[str, object] = {
            "path": self.path,
            "status": self.status,
            "reasons": list(self.reasons),
            "duplicate_of": self.duplicate_of,
            "metrics": self.metrics,
        }
        if self.detail:
            document["detail"] = self.detail
        return document


@dataclass
class ScanSummary:
    files: int = 0
    kept: int = 0
    skipped: int = 0  # files without an image suffix
    reasons: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0

    @property
    def rejected(self) -> int:
        return self.files - self.kept

    @property
    def reduction_pct(self) -> float:
        return 100.0 * self.rejected / self.files if self.files else 0.0

    @property
    def images_per_s(self) -> float:
        return self.files / self.seconds if self.seconds > 0 else 0.0


def image_files(root: Path, summary: ScanSummary | None = None) -> list[Path]:
    """Image files under root (or root itself), sorted, hidden files and folders left out."""
    if root.is_file():
        return [root]
    found: list[Path] = []
    for folder, subfolders, names in os.walk(root):
        subfolders[:] = sorted(name for name in subfolders if not name.startswith("."))
        for name in sorted(names):
            if name.startswith("."):
                continue
            if Path(name).suffix.lower() in IMAGE_SUFFIXES:
                found.append(Path(folder) / name)
            elif summary is not None:
                summary.skipped += 1
    return found


def assess_file(path: Path, limits: QualityThresholds) -> Assessment:
    try:
        data = path.read_bytes()
    except OSError as exc:
        return Assessment("", (Reason.CORRUPT,), None, (), corrupt_detail=f"unreadable: {exc.strerror or exc}")
    return assess(data, limits)


def folder_sizes(paths: Iterable[Path], limits: QualityThresholds) -> FolderSizes:
    """Each folder's sizes from its files' headers (nothing is decoded; unreadable files are
    left to the assessment, which names them corrupt)."""
    sizes = FolderSizes(limits)
    for path in paths:
        try:
            with Image.open(path) as image:
                width, height = image.size
        except Exception:  # anything unreadable is judged (and named corrupt) by assess
            continue
        sizes.count(str(path.parent), FrameSize(width, height))
    return sizes


def _assessments(paths: list[Path], limits: QualityThresholds, workers: int) -> Iterator[Assessment]:
    if workers <= 1:
        for path in paths:
            yield assess_file(path, limits)
        return
    with ProcessPoolExecutor(workers) as pool:
        yield from pool.map(assess_file, paths, [limits] * len(paths), chunksize=_CHUNK)


def scan(
    paths: Iterable[Path], limits: QualityThresholds, *, workers: int = 1, summary: ScanSummary | None = None
) -> Iterator[ScanItem]:
    """Judge each file in order; `summary` (if given) is updated as items are yielded."""
    paths = list(paths)
    summary = summary if summary is not None else ScanSummary()
    duplicates: MemoryDuplicates[str] = MemoryDuplicates()
    started = time.perf_counter()
    sizes = folder_sizes(paths, limits)
    for path, assessment in zip(paths, _assessments(paths, limits, workers), strict=True):
        verdict = judge(assessment, duplicates, limits, sizes.usual(str(path.parent)))
        duplicates.remember(assessment, verdict, str(path))
        summary.files += 1
        summary.kept += verdict.kept
        summary.reasons.update(reason.value for reason in verdict.reasons)
        summary.seconds = time.perf_counter() - started
        yield ScanItem(
            path=str(path),
            status="ok" if verdict.kept else "rejected",
            reasons=tuple(reason.value for reason in verdict.reasons),
            duplicate_of=verdict.duplicate_of,
            metrics=assessment.metric_values(),
            detail=assessment.corrupt_detail,
        )
