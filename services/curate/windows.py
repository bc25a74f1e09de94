"""Selection windows: which window a frame joins, and when a window is due to be chosen from."""

from __future__ import annotations

import math
from datetime import UTC, datetime

DAY_S = 86400.0


def window_of(captured_at: float, window_s: float) -> tuple[str, float, float]:
    """The window holding a capture time: (id, start, end). Ids sort in time order."""
    index = math.floor(captured_at / window_s)
    start = index * window_s
    stamp = datetime.fromtimestamp(start, UTC).strftime("%Y%m%dT%H%M%S")
    return f"w{stamp}-{int(window_s)}s", start, start + window_s


def day_of(start: float) -> tuple[float, float]:
    day = math.floor(start / DAY_S) * DAY_S
    return day, day + DAY_S


def is_due(end: float, watermark: float, lateness_s: float) -> bool:
    """A window is chosen from once frames captured `lateness_s` after its end have been seen."""
    return watermark >= end + lateness_s
