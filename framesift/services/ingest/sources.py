"""Frames to upload from a path: image files in a folder (recursive) or a video sampled at N fps."""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from pathlib import Path

VIDEO_SUFFIXES = frozenset({".mp4", ".mov", ".avi", ".mkv", ".webm", ".m4v"})
JPEG_QUALITY = 90


@dataclass(frozen=True)
class SourceItem:
    # Stable identity for resuming: a relative path, or "<video>#<frame time in ms>".
    ref: str
    data: bytes
    captured_at: datetime | None


def is_video(path: Path) -> bool:
    return path.suffix.lower() in VIDEO_SUFFIXES


def folder_files(root: Path) -> list[Path]:
    """Every regular, non-hidden file below root, in a stable order."""
    return sorted(
        p
        for p in root.rglob("*")
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(root).parts)
    )


def estimate_count(path: Path, fps: float) -> int:
    files = [path] if path.is_file() else folder_files(path)
    return sum(_video_estimate(f, fps) if is_video(f) else 1 for f in files)


def _video_estimate(path: Path, fps: float) -> int:
    import av

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        if stream.duration is not None and stream.time_base is not None:
            return max(1, int(float(stream.duration * stream.time_base) * fps) + 1)
        return max(1, int((container.duration or 0) / 1_000_000 * fps) + 1)


def iter_source(path: Path, fps: float) -> Iterator[SourceItem]:
    if path.is_file():
        yield from (iter_video(path, fps, ref_prefix=path.name) if is_video(path) else [_image_item(path, path.name)])
        return
    for file in folder_files(path):
        ref = file.relative_to(path).as_posix()
        if is_video(file):
            yield from iter_video(file, fps, ref_prefix=ref)
        else:
            yield _image_item(file, ref)


def _image_item(path: Path, ref: str) -> SourceItem:
    return SourceItem(ref, path.read_bytes(), datetime.fromtimestamp(path.stat().st_mtime, UTC))


def iter_video(path: Path, fps: float, *, ref_prefix: str, start: datetime | None = None) -> Iterator[SourceItem]:
    """Decode with PyAV and keep the first frame at or after each 1/fps step, as JPEG (quality 90).

    captured_at is the file's modification time minus the video's length plus the frame's time,
    a best guess for recordings without a wall-clock track.
    """
    import av
    from PIL import Image

    if fps <= 0:
        raise ValueError("fps must be positive")
    step = Fraction(1) / Fraction(fps).limit_denominator(1000)
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        length_s = float(container.duration or 0) / 1_000_000
        origin = start or datetime.fromtimestamp(path.stat().st_mtime, UTC) - timedelta(seconds=length_s)
        next_t = Fraction(0)
        for frame in container.decode(stream):
            if frame.pts is None or frame.time_base is None:
                continue
            t = Fraction(frame.pts) * frame.time_base
            if t < next_t:
                continue
            while next_t <= t:
                next_t += step
            buffer = io.BytesIO()
            image: Image.Image = frame.to_image()
            image.save(buffer, format="JPEG", quality=JPEG_QUALITY)
            millis = int(t * 1000)
            yield SourceItem(f"{ref_prefix}#{millis}", buffer.getvalue(), origin + timedelta(milliseconds=millis))
