import pytest

from framesift.contracts.media import GIF, JPEG, PNG, WEBP, sniff
from tests.support.images import jpeg, png, webp


def test_sniffs_real_images_from_their_bytes() -> None:
    assert sniff(jpeg()) is JPEG
    assert sniff(png()) is PNG
    assert sniff(webp()) is WEBP
    assert sniff(b"GIF89a" + b"\x00" * 20) is GIF


def test_truncated_jpeg_is_still_an_image_for_quality_to_judge() -> None:
    assert sniff(jpeg()[:40]) is JPEG


@pytest.mark.parametrize("data", [b"", b"hello world", b"%PDF-1.7", b"<html>", b"\xff\xd8"])
def test_non_images_are_refused(data: bytes) -> None:
    assert sniff(data) is None
