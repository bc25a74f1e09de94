"""A short real video encoded in the test (PyAV), with a known frame rate and length."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np


def write_video(path: Path, *, seconds: float = 3.0, rate: int = 10, size: tuple[int, int] = (96, 64)) -> Path:
    width, height = size
    with av.open(str(path), "w") as container:
        stream = container.add_stream("mpeg4", rate=rate)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for i in range(int(seconds * rate)):
            # A bar moving across a gradient: every frame differs.
            image = np.tile(np.linspace(0, 255, width, dtype=np.uint8), (height, 1))
            image = np.stack([image, np.roll(image, i * 3, axis=1), np.full_like(image, (i * 8) % 256)], axis=-1)
            image[:, (i * 4) % width : (i * 4) % width + 6] = 255
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path
