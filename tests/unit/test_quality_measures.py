"""The metrics on crafted frames whose answer is known from how they were made."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from framesift.services.quality.decoding import WORKING_SIDE, decode
from framesift.services.quality.measures import HASHES_PER_FRAME, FrameMetrics, measure, perceptual_hashes
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
    assert metrics.unclipped_p50 == 0.0  # what is not burnt out is black
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


@pytest.mark.parametrize(
    "box",
    [
        (32, 18, 608, 342),  # 5 % off every side
        (0, 0, 589, 331),  # 8 % off the right and the bottom: an off-centre crop
        (51, 25, 640, 360),  # 8 % off the left and 7 % off the top
    ],
)
def test_crop_window_hashes_meet_a_cropped_copy(box) -> None:
    image = scene(seed=7)
    original = perceptual_hashes(decode(encode(image)).grey)
    copy = perceptual_hashes(decode(encode(image.crop(box))).grey)
    assert len(original) == HASHES_PER_FRAME == 7
    whole_to_whole = bits_apart(original[0], copy[0])
    best = min(bits_apart(a, b) for a in original for b in copy)
    assert best <= 6  # within the radius (10) with room to spare
    assert best < whole_to_whole  # the windows are what brings the copy close


def test_quality_measures_exactly_the_vocabulary_s_metrics() -> None:
    """The query language knows the metrics from the vocabulary; quality must publish those names."""
    import dataclasses

    from framesift.contracts.vocabulary import QUALITY_METRICS

    assert tuple(f.name for f in dataclasses.fields(FrameMetrics)) == QUALITY_METRICS


def test_unclipped_median_is_white_when_nothing_is_left() -> None:
    white = Image.fromarray(np.full((100, 200), 255, dtype=np.uint8), "L")
    assert metrics_of(white, "PNG").unclipped_p50 == 1.0


def test_a_white_background_keeps_its_subject_tones_and_an_overexposure_lifts_them() -> None:
    from framesift.services.quality.rules import is_washed_out
    from framesift.services.quality.settings import QualityThresholds

    limits = QualityThresholds()
    subject = scene(320, 180, seed=5)
    on_white = Image.new("RGB", (640, 360), (255, 255, 255))
    on_white.paste(subject, (160, 90))  # three quarters of the frame burnt-out white
    background = metrics_of(on_white)
    assert background.clipped_fraction > 0.7
    assert not is_washed_out(background, limits)
    lifted = metrics_of(scaled_luma(scene(640, 360, seed=5), 2.5, 60))  # everything pushed up
    assert lifted.luma_p50 > limits.overexposed_luma_p50
    assert is_washed_out(lifted, limits)
