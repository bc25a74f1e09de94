"""A labelled set for judging quality checks: real images, and known faults derived from them.

Every original is used in one role only, so that labels cannot overlap by accident:
  clean     kept as is (some saved as PNG under a .jpg name: a wrong extension is not corrupt),
            plus an exact copy, near-duplicates (re-encoded, resized, cropped, brightness-shifted,
            or the next frames of the same video) and one corrupt copy each
  blurry    Gaussian blur of 0.6 %, 1 % and 1.6 % of the long side (at least 2.5 px); plus a real
            motion-blurred photo
  dark      exposure lowered (in linear light) until the brightest 1 % sits at 0.20, 0.14 or 0.09
  overexposed  exposure raised until the median pixel sits at 0.85, 0.90 or 0.95
  odd_size  a thumbnail (short side 40, under the 64 px floor: the folder mixes sizes, so it has
            no usual size to be judged against), a 6:1 strip and a 1:5 strip
and generated frames with nothing in them (uniform colour plus sensor noise): low_information;
black and white ones are also dark / overexposed. The fault levels are set from what each
fault means to a viewer, independently of any detector's threshold.
The blurred, darkened and overexposed versions of one photo show the same picture: after the
first of them in scan order, the others are near duplicates of it as well (framesift names
every reason that applies).
"""

from __future__ import annotations

import io
import json
import random
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter

from bench.realimages import REAL_BLURRY, STATIC_CAMERA, RealImage, next_frame, photographs, skimage_photo, video_stills

SEED = 2026
ROLES = ("blurry", "dark", "overexposed", "odd_size")
PER_ROLE = 3
CORRUPT_KINDS = ("truncated_jpeg", "zero_bytes", "not_an_image", "png_bad_crc", "jpeg_cut_in_scan")


@dataclass
class Item:
    name: str
    data: bytes
    reasons: set[str] = field(default_factory=set)
    source: str = ""
    family: str = ""  # versions of one photo that show the same picture


def jpeg_bytes(image: Image.Image, quality: int = 90) -> bytes:
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


def png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def _to_linear(srgb: np.ndarray) -> np.ndarray:
    return np.where(srgb <= 0.04045, srgb / 12.92, ((srgb + 0.055) / 1.055) ** 2.4)


def _to_srgb(linear: np.ndarray) -> np.ndarray:
    return np.where(linear <= 0.0031308, linear * 12.92, 1.055 * np.power(linear, 1 / 2.4) - 0.055)


def _luma(image: Image.Image) -> np.ndarray:
    return np.asarray(image.convert("L"), dtype=np.float64) / 255.0


def exposed(image: Image.Image, stops: float) -> Image.Image:
    """The photo as if shot `stops` stops brighter (negative: darker): a gain in linear light."""
    rgb = np.asarray(image.convert("RGB"), dtype=np.float64) / 255.0
    out = _to_srgb(np.clip(_to_linear(rgb) * 2.0**stops, 0.0, 1.0))
    return Image.fromarray(np.round(out * 255).astype(np.uint8))


def exposed_to(image: Image.Image, percentile: float, target: float) -> Image.Image:
    """The exposure at which the given luma percentile of the result lands on `target`.

    Found by bisection on the stops, measuring the result: a per-channel gain moves luma by
    less than the gain once a channel clips, so it cannot be computed in one step.
    """
    low, high = -12.0, 12.0
    for _ in range(30):
        stops = (low + high) / 2
        if np.percentile(_luma(exposed(image, stops)), percentile) < target:
            low = stops
        else:
            high = stops
    return exposed(image, (low + high) / 2)


def blurred(image: Image.Image, fraction: float) -> Image.Image:
    # Never under 2.5 px: on a small image a fraction of the side would be a barely visible blur.
    return image.filter(ImageFilter.GaussianBlur(max(2.5, fraction * max(image.size))))


def corrupt_copy(kind: str, image: Image.Image) -> bytes:
    if kind == "truncated_jpeg":  # an upload cut off half way
        data = jpeg_bytes(image)
        return data[: len(data) * 55 // 100]
    if kind == "jpeg_cut_in_scan":  # lost the last few hundred bytes, end marker included
        data = jpeg_bytes(image)
        return data[:-300]
    if kind == "zero_bytes":
        return b""
    if kind == "not_an_image":  # what a misconfigured camera proxy sends
        return b"<html><body><h1>502 Bad Gateway</h1></body></html>\n"
    if kind == "png_bad_crc":  # one flipped bit inside the image data
        data = bytearray(png_bytes(image))
        start = data.index(b"IDAT") + 4
        data[start + 100] ^= 0x10
        return bytes(data)
    raise ValueError(kind)


def near_duplicates(original: RealImage, rng: random.Random) -> list[tuple[str, Image.Image]]:
    image = original.image
    width, height = image.size
    variants: list[tuple[str, Image.Image]] = []
    if original.video in STATIC_CAMERA:
        variants.append(("next-frame", next_frame(original, 1)))
        variants.append(("frame-after-next", next_frame(original, 2)))
    variants.append(("jpeg-q35", Image.open(io.BytesIO(jpeg_bytes(image, 35))).convert("RGB")))
    # Resized, but not below 160 px on the short side (that would be an odd_size frame too).
    scale = max(rng.uniform(0.5, 0.7), 160 / min(width, height))
    if scale < 0.9:
        size = (round(width * scale), round(height * scale))
        variants.append(("resized", image.resize(size, Image.Resampling.LANCZOS)))
    margin = rng.uniform(0.03, 0.05)
    box = (round(width * margin), round(height * margin), round(width * (1 - margin)), round(height * (1 - margin)))
    variants.append(("cropped", image.crop(box)))
    variants.append(("brighter" if rng.random() < 0.5 else "darker", exposed(image, rng.choice((0.3, -0.3)))))
    return variants[:4]


def faulty_versions(image: Image.Image, only: str | None = None) -> list[tuple[str, Image.Image]]:
    """(reason, version) for the blurred, darkened and overexposed versions of a photo."""
    versions: list[tuple[str, Image.Image]] = []
    if only in (None, "blurry"):
        versions += [("blurry", blurred(image, fraction)) for fraction in (0.006, 0.010, 0.016)]
    if only in (None, "dark"):
        versions += [("dark", exposed_to(image, 99, target)) for target in (0.20, 0.14, 0.09)]
    if only in (None, "overexposed"):
        versions += [("overexposed", exposed_to(image, 50, target)) for target in (0.85, 0.90, 0.95)]
    return versions


def low_information_frames(rng: np.random.Generator) -> list[Item]:
    items = []
    specs = [("flat", rng.uniform(0.25, 0.75), {"low_information"}) for _ in range(8)]
    specs += [("lens-cap", 0.01, {"low_information", "dark"}), ("lens-cap", 0.02, {"low_information", "dark"})]
    specs += [
        ("saturated", 0.99, {"low_information", "overexposed"}),
        ("saturated", 1.0, {"low_information", "overexposed"}),
    ]
    for i, (kind, level, reasons) in enumerate(specs):
        tint = rng.uniform(-0.05, 0.05, 3)
        frame = np.clip(level + tint + rng.normal(0.0, 3 / 255, (720, 1280, 3)), 0, 1)
        image = Image.fromarray(np.round(frame * 255).astype(np.uint8))
        items.append(Item(f"{kind}-{i}", jpeg_bytes(image), set(reasons), "generated"))
    return items


def build() -> tuple[list[Item], dict[str, str]]:
    """The items in scan order (clean originals first) and the role of each original."""
    rng = random.Random(SEED)
    originals = photographs() + video_stills()
    rng.shuffle(originals)
    faulty_count = len(ROLES) * PER_ROLE
    roles = {o.name: ROLES[i // PER_ROLE] for i, o in enumerate(originals[:faulty_count])}
    clean = originals[faulty_count:]
    roles.update({o.name: "clean" for o in clean})

    first: list[Item] = []
    rest: list[Item] = []
    for i, original in enumerate(clean):
        if original.video is None and i % 4 == 0:
            first.append(Item(f"{original.name}-png-named-jpg", png_bytes(original.image), set(), original.name))
        elif original.video is None:
            first.append(Item(original.name, png_bytes(original.image), set(), original.name))
        else:
            first.append(Item(original.name, jpeg_bytes(original.image), set(), original.name))
        rest.append(Item(f"{original.name}-copy", first[-1].data, {"exact_duplicate"}, original.name))
        for label, image in near_duplicates(original, rng):
            rest.append(Item(f"{original.name}-{label}", jpeg_bytes(image), {"near_duplicate"}, original.name))
        kind = CORRUPT_KINDS[i % len(CORRUPT_KINDS)]
        rest.append(Item(f"{original.name}-{kind}", corrupt_copy(kind, original.image), {"corrupt"}, original.name))

    for original in originals[:faulty_count]:
        role, image, name = roles[original.name], original.image, original.name
        if role in ("blurry", "dark", "overexposed"):
            for level, (_, version) in enumerate(faulty_versions(image, role), start=1):
                rest.append(Item(f"{name}-{role}{level}", jpeg_bytes(version), {role}, name, family=name))
        elif role == "odd_size":
            width, height = image.size
            scale = 40 / min(width, height)
            thumb = image.resize(
                (max(1, round(width * scale)), max(1, round(height * scale))), Image.Resampling.LANCZOS
            )
            strip_height, tall_width = max(1, width // 6), max(1, height // 5)
            top, left = (height - strip_height) // 2, (width - tall_width) // 2
            strip = image.crop((0, top, width, top + strip_height))
            tall = image.crop((left, 0, left + tall_width, height))
            for label, part in (("thumbnail", thumb), ("strip", strip), ("tall-strip", tall)):
                rest.append(Item(f"{name}-{label}", jpeg_bytes(part), {"odd_size"}, name))
    for filename in REAL_BLURRY:
        rest.append(Item(Path(filename).stem, png_bytes(skimage_photo(filename)), {"blurry"}, "skimage"))
    rest.extend(low_information_frames(np.random.default_rng(SEED)))
    rng.shuffle(rest)
    seen: set[str] = set()
    for item in rest:
        if item.family and item.family in seen:
            item.reasons.add("near_duplicate")
        seen.add(item.family)
    return first + rest, roles


def write(items: list[Item], folder: Path) -> list[tuple[Path, set[str]]]:
    """Files named NNNN-name.jpg in scan order, and a labels.json beside them."""
    folder.mkdir(parents=True, exist_ok=True)
    labelled = []
    for index, item in enumerate(items):
        path = folder / f"{index:04d}-{item.name}.jpg"
        path.write_bytes(item.data)
        labelled.append((path, item.reasons))
    labels = {path.name: sorted(reasons) for path, reasons in labelled}
    (folder / "labels.json").write_text(json.dumps(labels, indent=1))
    return labelled
