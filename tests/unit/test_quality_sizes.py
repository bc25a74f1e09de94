"""odd_size against the source's usual size: small cameras pass, strips and thumbnails among large frames do not."""

from __future__ import annotations

import pytest

from framesift.services.quality.settings import QualityThresholds
from framesift.services.quality.sizes import FolderSizes, FrameSize, is_odd_size, usual_size

LIMITS = QualityThresholds()
HD = FrameSize(1920, 1080)
QVGA = FrameSize(320, 240)


def test_the_usual_size_is_the_majority_once_there_are_enough_frames() -> None:
    assert usual_size({HD: LIMITS.usual_size_min_frames - 1}, LIMITS) is None  # too few frames yet
    assert usual_size({HD: LIMITS.usual_size_min_frames}, LIMITS) == HD
    assert usual_size({HD: 60, FrameSize(320, 180): 40}, LIMITS) == HD
    # A mixed folder of photographs: no size is a majority, so there is nothing to be odd against.
    assert usual_size({HD: 40, QVGA: 30, FrameSize(512, 512): 30}, LIMITS) is None


@pytest.mark.parametrize(
    ("size", "usual", "odd"),
    [
        (QVGA, QVGA, False),  # a camera of small frames is not odd for being small
        (FrameSize(160, 120), None, False),  # nor is a small picture with nothing to compare with
        (FrameSize(100, 127), None, False),  # the crops that a 128 px floor used to reject
        (FrameSize(320, 180), HD, True),  # a thumbnail among 1080p frames
        (FrameSize(1920, 320), HD, True),  # a strip of a 1080p frame
        (FrameSize(1280, 720), HD, False),  # a lower resolution of the same shape
        (FrameSize(3840, 2160), HD, False),  # larger is never odd
        (FrameSize(1080, 1920), HD, False),  # the same camera turned portrait
        (FrameSize(1440, 1080), HD, False),  # 4:3 among 16:9, within 1.5x of its shape
        (FrameSize(960, 1080), HD, True),  # half the width: a broken encoder's half frame
        (FrameSize(1200, 300), None, False),  # 4:1 with no usual size to compare with passes...
        (FrameSize(1204, 300), None, True),  # ...beyond it is a strip
        (FrameSize(63, 200), None, True),  # under the absolute floor, where no detector works
        (FrameSize(63, 63), FrameSize(64, 64), True),  # even for a camera that sends that size
    ],
)
def test_odd_size(size: FrameSize, usual: FrameSize | None, odd: bool) -> None:
    assert is_odd_size(size, usual, LIMITS) is odd


def test_a_folder_is_its_files_source() -> None:
    sizes = FolderSizes(LIMITS)
    for _ in range(12):
        sizes.count("/frames/cam-a", HD)
        sizes.count("/frames/cam-b", QVGA)
    sizes.count("/frames/cam-a", FrameSize(320, 180))
    assert sizes.usual("/frames/cam-a") == HD
    assert sizes.usual("/frames/cam-b") == QVGA
    assert sizes.usual("/elsewhere") is None
