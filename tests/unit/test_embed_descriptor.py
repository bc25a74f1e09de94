"""Preprocessing shared by every backend, and the weights-free descriptor."""

from __future__ import annotations

import numpy as np
import pytest

from framesift.inference.backends.base import TextSearchUnavailableError
from framesift.inference.backends.descriptor import DIMENSIONS, DescriptorBackend, describe
from framesift.inference.preprocess import INPUT_SIZE, UndecodableFrameError, prepare, to_rgb01
from tests.support.scenes import encode, scaled_luma, scene


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)))


@pytest.mark.parametrize("size", [(1920, 1080), (640, 360), (300, 500)])
def test_every_frame_becomes_one_clip_sized_normalised_tensor(size) -> None:
    prepared = prepare(encode(scene(*size)))
    assert prepared.pixels.shape == (3, INPUT_SIZE, INPUT_SIZE)
    assert prepared.pixels.dtype == np.float32
    assert (prepared.width, prepared.height) == size
    rgb = to_rgb01(prepared.pixels)
    assert rgb.min() >= 0.0
    assert rgb.max() <= 1.0
    assert -2.0 < prepared.pixels.mean() < 2.0  # mean/std normalised, not 0..255


def test_the_centre_crop_keeps_the_middle_of_a_wide_frame() -> None:
    image = np.zeros((100, 300, 3), dtype=np.uint8)
    image[:, 100:200] = 255  # a white middle third, exactly what the crop keeps
    from PIL import Image

    rgb = to_rgb01(prepare(encode(Image.fromarray(image), "PNG")).pixels)
    assert rgb.mean() > 0.97


def test_undecodable_bytes_are_named() -> None:
    with pytest.raises(UndecodableFrameError, match=r"does not decode|image format"):
        prepare(b"\x89PNG\r\n\x1a\n" + b"\x00" * 20)


def test_descriptor_is_deterministic_unit_length_and_sized() -> None:
    pixels = prepare(encode(scene(seed=1))).pixels
    first, second = describe(pixels), describe(pixels.copy())
    assert first.shape == (DIMENSIONS,)
    assert np.array_equal(first, second)
    assert np.linalg.norm(first) == pytest.approx(1.0, abs=1e-5)


def test_descriptor_puts_the_same_scene_closer_than_another_scene() -> None:
    base = scene(seed=2)
    same = [encode(base, quality=40), encode(scaled_luma(base, 0.9, 10)), encode(base.resize((320, 180)))]
    others = [encode(scene(seed=s)) for s in (3, 4, 5)]
    reference = describe(prepare(encode(base)).pixels)
    near = min(cosine(reference, describe(prepare(data).pixels)) for data in same)
    far = max(cosine(reference, describe(prepare(data).pixels)) for data in others)
    assert near > 0.95
    assert far < near - 0.1


async def test_descriptor_backend_names_itself_and_refuses_text_search() -> None:
    backend = DescriptorBackend()
    [embedding] = await backend.embed_images(prepare(encode(scene())).pixels[None])
    assert set(embedding.vectors) == {"descriptor"} == set(backend.vector_sizes)
    assert embedding.detections == []
    assert backend.has_detector is False
    with pytest.raises(TextSearchUnavailableError, match="FRAMESIFT_EMBED_BACKEND"):
        await backend.embed_text("a cyclist at night")
