"""The per-frame metrics, all computed from the grey working image of `decoding`.

Every metric is on a fixed, documented scale so that a threshold means the same thing for every
camera; the thresholds themselves live in `rules`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from PIL import Image

# Contrast is measured on a thumbnail this many pixels across: block averages remove sensor
# noise and JPEG ringing, so what is left is scene structure.
_THUMBNAIL_SIDE = 60
# Edge blur: pixels either side of an edge that its contrast is measured over, the weakest
# gradient (of the 0..1 stretched image) that counts as an edge, and the value reported when
# there is no edge at all.
_EDGE_REACH = 6
_MIN_EDGE = 0.02
_BLUR_CAP = 8.0
_SQRT_2PI = float(np.sqrt(2 * np.pi))
# Luma at and above which a pixel is burnt out (no recoverable detail).
_CLIPPED = 250
_NEAR_WHITE = 204  # 0.8 of full scale
_HASH_SIDE = 32
_HASH_LOW = 8


@dataclass(frozen=True)
class FrameMetrics:
    width: int
    height: int
    aspect_ratio: float  # long side / short side, >= 1
    brightness: float  # mean luma (Rec. 601), 0..1
    luma_p01: float  # luma percentiles, 0..1
    luma_p05: float
    luma_p50: float
    luma_p99: float
    clipped_fraction: float  # share of pixels at luma >= 250/255 (burnt out)
    unclipped_p50: float  # median luma of the pixels that are not burnt out (1.0 if none is left)
    near_white_fraction: float  # share of pixels just under burnt out: 0.8 <= luma < 250/255
    contrast: float  # p99 - p1 of the denoised thumbnail's luma, 0..1
    entropy: float  # of the 256-bin luma histogram, bits (0..8)
    edge_blur_px: float  # estimated blur sigma of the sharpest edges, working pixels (sharp: ~1)

    def as_dict(self) -> dict[str, float]:
        return {name: float(value) for name, value in asdict(self).items()}


def measure(grey: np.ndarray, width: int, height: int) -> FrameMetrics:
    """Metrics of a uint8 grey working image; width and height are the frame's full size."""
    pixels = grey.size
    image = Image.fromarray(grey, "L")
    histogram = np.array(image.histogram(), dtype=np.int64)  # Pillow's C loop: faster than bincount
    cumulative = np.cumsum(histogram)
    p01, p05, p50, p99 = (_percentile(cumulative, q) for q in (0.01, 0.05, 0.50, 0.99))
    probabilities = histogram[histogram > 0] / pixels
    return FrameMetrics(
        width=width,
        height=height,
        aspect_ratio=max(width, height) / max(1, min(width, height)),
        brightness=float(np.dot(histogram, np.arange(256)) / (255.0 * pixels)),
        luma_p01=p01,
        luma_p05=p05,
        luma_p50=p50,
        luma_p99=p99,
        clipped_fraction=float(histogram[_CLIPPED:].sum() / pixels),
        unclipped_p50=_percentile(cumulative[:_CLIPPED], 0.50) if cumulative[_CLIPPED - 1] else 1.0,
        near_white_fraction=float(histogram[_NEAR_WHITE:_CLIPPED].sum() / pixels),
        contrast=_contrast(image),
        entropy=float(-(probabilities * np.log2(probabilities)).sum()) + 0.0,  # never -0.0
        edge_blur_px=_edge_blur(grey, p01, p99),
    )


def _percentile(cumulative: np.ndarray, q: float) -> float:
    """Luma (0..1) below which a fraction q of the pixels lie, from the cumulative histogram."""
    return float(np.searchsorted(cumulative, q * cumulative[-1], side="left")) / 255.0


def _contrast(image: Image.Image) -> float:
    width, height = image.size
    factor = max(1, min(min(height, width) // 16, max(height, width) // _THUMBNAIL_SIDE))
    thumbnail = image.reduce(factor) if factor > 1 else image
    low, high = _linear_percentiles(np.asarray(thumbnail).ravel(), (0.01, 0.99))
    return float(high - low) / 255.0


def _linear_percentiles(values: np.ndarray, quantiles: tuple[float, ...]) -> list[float]:
    """np.percentile's default (linear) answer, from a partial sort of only the ranks needed."""
    last = values.size - 1
    positions = [q * last for q in quantiles]
    ranks = sorted({int(np.floor(p)) for p in positions} | {int(np.ceil(p)) for p in positions})
    ordered = np.partition(values, ranks)
    answers = []
    for position in positions:
        below, above = float(ordered[int(np.floor(position))]), float(ordered[int(np.ceil(position))])
        answers.append(below + (position - np.floor(position)) * (above - below))
    return answers


def _edge_blur(grey: np.ndarray, low: float, high: float) -> float:
    """Estimated Gaussian blur (sigma, in working pixels) of the frame's sharpest edges.

    A blurred step edge of contrast C has a peak gradient of C / (sigma * sqrt(2 pi)); so at
    the strongest gradients, local contrast / gradient / sqrt(2 pi) estimates sigma. A sharp
    edge reads 0.8-1 px. Measured along rows and along columns, the larger is reported, so
    motion blur (edges smeared one way only) counts; using only the strongest edges means a
    sharp subject before a defocused background is sharp. The ratio does not change when the
    image is stretched, so only the edge floor is scaled to the frame's p1..p99 luma range.
    """
    min_edge = _MIN_EDGE * max(high - low, 1.0 / 255.0) * 255.0
    return max(_blur_along(grey, 1, min_edge), _blur_along(grey, 0, min_edge))


def _blur_along(g: np.ndarray, axis: int, min_edge: float) -> float:
    if g.shape[axis] < 2 * _EDGE_REACH + 3:
        return _BLUR_CAP
    # Central difference (x2, as |a - b| in uint8 without overflow): index i is centred on pixel i + 1.
    a, b = (g[:, 2:], g[:, :-2]) if axis == 1 else (g[2:, :], g[:-2, :])
    gradient = np.maximum(a, b) - np.minimum(a, b)
    flat = gradient.ravel()
    # The strongest 0.5 % of gradients, found from a strided sample (a full sort costs more).
    sample = flat[:: max(1, flat.size // 8192)]
    rank = int(sample.size * 0.995)
    cut = max(int(np.partition(sample, rank)[rank]), int(np.ceil(2 * min_edge)), 1)
    strongest = np.flatnonzero(flat >= cut)
    if strongest.size == 0:
        return _BLUR_CAP
    rows, cols = np.divmod(strongest, gradient.shape[1])
    height, width = g.shape
    offsets = np.arange(-_EDGE_REACH, _EDGE_REACH + 1)
    # The pixels either side of each edge, gathered by flat index (cheaper than 2-D fancy indexing).
    if axis == 1:
        at = rows[:, None] * width + np.clip(cols[:, None] + 1 + offsets, 0, width - 1)
    else:
        at = np.clip(rows[:, None] + 1 + offsets, 0, height - 1) * width + cols[:, None]
    window = np.take(g, at)
    spread = (window.max(axis=1) - window.min(axis=1)) / (0.5 * flat[strongest].astype(np.float32))
    (median,) = _linear_percentiles(spread, (0.5,))
    return min(median / _SQRT_2PI, _BLUR_CAP)


def _dct_matrix(n: int) -> np.ndarray:
    k = np.arange(n)[:, None]
    x = np.arange(n)[None, :]
    matrix = np.cos(np.pi * (2 * x + 1) * k / (2 * n)) * np.sqrt(2.0 / n)
    matrix[0] /= np.sqrt(2.0)
    return matrix


_DCT_LOW = _dct_matrix(_HASH_SIDE)[:_HASH_LOW]  # the rows of the lowest frequencies


# Windows hashed besides the whole frame, as (left, top, right, bottom) fractions. pHash moves
# by 8-20 of 64 bits when 3-10 % is cut from the frame, more when the cut is off-centre, since
# the low frequencies it keeps shift with the content. A copy cropped anywhere lands next to
# one of its original's windows: two central crops (4 % and 8 % off each side) and four crops
# that cut 6 % from one side and 3 % from the two beside it. Comparing every window with
# every window also finds an original that arrives after its cropped copy.
CROP_WINDOWS: tuple[tuple[float, float, float, float], ...] = (
    (0.04, 0.04, 0.96, 0.96),
    (0.08, 0.08, 0.92, 0.92),
    (0.00, 0.03, 0.94, 0.97),
    (0.06, 0.03, 1.00, 0.97),
    (0.03, 0.00, 0.97, 0.94),
    (0.03, 0.06, 0.97, 1.00),
)
HASHES_PER_FRAME = 1 + len(CROP_WINDOWS)


def perceptual_hashes(grey: np.ndarray) -> tuple[int, ...]:
    """The 64-bit DCT perceptual hash (the pHash of Zauner 2010, as imagehash computes it) of the
    whole frame, then of its crop windows (CROP_WINDOWS).

    Each is a 32x32 thumbnail's 8x8 lowest DCT frequencies compared with their median; bit 63 is
    the DC term. Robust to re-encoding, resizing and brightness shifts. All windows are
    transformed in one batched product, and only the 8 lowest rows of the DCT are computed.
    """
    image = Image.fromarray(grey, "L")
    factor = min(image.size) // (2 * _HASH_SIDE)
    if factor > 1:  # a cheap integer reduction first: the hash needs no more than 64 px
        image = image.reduce(factor)
    width, height = image.size
    boxes = [
        None,
        *((left * width, top * height, right * width, bottom * height) for left, top, right, bottom in CROP_WINDOWS),
    ]
    # A box filter is enough before a DCT that keeps only the lowest 8x8 frequencies.
    # The thumbnails side by side on one strip, read into numpy once.
    strip = Image.new("L", (_HASH_SIDE * len(boxes), _HASH_SIDE))
    for i, box in enumerate(boxes):
        strip.paste(image.resize((_HASH_SIDE, _HASH_SIDE), Image.Resampling.BOX, box=box), (i * _HASH_SIDE, 0))
    side_by_side = np.asarray(strip, dtype=np.float64).reshape(_HASH_SIDE, len(boxes), _HASH_SIDE)
    thumbnails = side_by_side.transpose(1, 0, 2)  # (windows, rows, columns)
    low = _DCT_LOW @ thumbnails @ _DCT_LOW.T  # (windows, 8, 8)
    flat = low.reshape(len(boxes), -1)
    bits = flat > np.median(flat, axis=1, keepdims=True)
    packed = np.packbits(bits, axis=1)  # 8 bytes per window, most significant bit first
    return tuple(int.from_bytes(row.tobytes(), "big") for row in packed)
