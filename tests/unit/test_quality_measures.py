"""The metrics on crafted frames whose answer is known from how they were made."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from framesift.services.quality.decoding import WORKING_SIDE, decode
from framesift.services.quality.measures import FrameMetrics, measure, perceptual_hashes
from tests.support.scenes import blurred, encode, motion_blurred, scaled_luma, scene, uniform


def metrics_of(image: Image.Image, fmt: str = "JPEG") -> FrameMetrics:
    frame = decode(encode(image, fmt))
    return measure(frame.grey, frame.width, frame.height)


def bits_apart(a: int, b: int) -> int:
    return (a ^ b).bit_count()


@pytest.mark.parametrize(
    ("size", "fmt", "working"),
    [((1920, 1080), "JPEG", (270, 480)), ((1000, 500), "PNG", (240, 480)), ((300, 200), "JPEG", (200, 300))],
)
def test_one_decode_to_the_working_size(size, fmt, working) -> None:
    frame = decode(encode(scene(*size), fmt))
    assert (frame.width, frame.height) == size
    assert frame.grey.shape == working
    assert max(frame.grey.shape) <= WORKING_SIDE


def test_sixteen_bit_grey_is_scaled_not_clipped() -> None:
    ramp = np.tile(np.linspace(0, 65535, 256, dtype=np.uint16), (64, 1))
    frame = decode(encode(Image.fromarray(ramp), "PNG"))
    assert frame.grey.min() == 0
    assert frame.grey.max() == 255
    assert 100 < float(np.median(frame.grey)) < 155


def test_sharp_frame_reads_about_one_pixel_of_edge_blur() -> None:
    assert metrics_of(scene()).edge_blur_px < 1.3


@pytest.mark.parametrize("working_sigma", [2.0, 3.0, 4.0])
def test_gaussian_blur_is_measured_in_working_pixels(working_sigma: float) -> None:
    image = scene(960, 540)  # working size is half of this
    measured = metrics_of(blurred(image, working_sigma * 2)).edge_blur_px
    assert measured == pytest.approx(working_sigma, rel=0.25)


def test_motion_blur_in_one_direction_counts() -> None:
    assert metrics_of(motion_blurred(scene(480, 270), 12)).edge_blur_px > 2.5


def test_sharp_subject_before_a_defocused_background_is_sharp() -> None:
    image = scene(seed=3)
    background = blurred(image, 6)
    background.paste(image.crop((0, 0, 200, 360)), (0, 0))
    assert metrics_of(background).edge_blur_px < 1.5


def test_edge_blur_does_not_depend_on_exposure() -> None:
    image = scene(seed=4)
    bright, dim = metrics_of(image).edge_blur_px, metrics_of(scaled_luma(image, 0.2)).edge_blur_px
    assert dim == pytest.approx(bright, abs=0.4)


def test_luma_percentiles_and_clipping_from_a_known_histogram() -> None:
    pixels = np.zeros((100, 200), dtype=np.uint8)
    pixels[:, 100:] = 255  # half black, half white
    metrics = metrics_of(Image.fromarray(pixels, "L"), "PNG")
    assert (metrics.luma_p01, metrics.luma_p05, metrics.luma_p50, metrics.luma_p99) == (0.0, 0.0, 0.0, 1.0)
    assert metrics.clipped_fraction == pytest.approx(0.5)
    assert metrics.brightness == pytest.approx(0.5)
    assert metrics.entropy == pytest.approx(1.0)


def test_contrast_ignores_sensor_noise_but_sees_structure() -> None:
    assert metrics_of(uniform(noise=4.0)).contrast < 0.03
    assert metrics_of(scene()).contrast > 0.3


def test_flat_frame_has_zero_entropy_not_negative_zero() -> None:
    metrics = metrics_of(uniform(noise=0.0), "PNG")
    assert metrics.entropy == 0.0
    assert str(metrics.entropy) == "0.0"


def test_size_and_aspect_ratio() -> None:
    metrics = metrics_of(scene(400, 100))
    assert (metrics.width, metrics.height, metrics.aspect_ratio) == (400, 100, 4.0)


def test_phash_survives_reencoding_resizing_and_brightness_but_not_a_new_scene() -> None:
    image = scene(seed=5)

    def hashes(img: Image.Image, **options) -> tuple[int, ...]:
        return perceptual_hashes(decode(encode(img, **options)).grey)

    original = hashes(image)[0]
    assert bits_apart(original, hashes(image, quality=30)[0]) <= 4
    assert bits_apart(original, hashes(image.resize((320, 180)))[0]) <= 4
    assert bits_apart(original, hashes(scaled_luma(image, 1.0, 20))[0]) <= 4
    assert bits_apart(original, hashes(scene(seed=6))[0]) >= 16


def test_central_crop_hashes_meet_a_cropped_copy() -> None:
    image = scene(seed=7)
    cropped = image.crop((32, 18, 608, 342))  # 5 % off every side
    original = perceptual_hashes(decode(encode(image)).grey)
    copy = perceptual_hashes(decode(encode(cropped)).grey)
    assert len(original) == 3
    assert min(bits_apart(a, b) for a in original for b in copy) <= 4


def test_quality_measures_exactly_the_vocabulary_s_metrics() -> None:
    """The query language knows the metrics from the vocabulary; quality must publish those names."""
    import dataclasses

    from framesift.contracts.vocabulary import QUALITY_METRICS

    assert tuple(f.name for f in dataclasses.fields(FrameMetrics)) == QUALITY_METRICS
