"""Selection windows: which window a frame joins, and when a window is due to be chosen from."""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection, Engine

from .tables import CurateClock, SelectionWindow

WINDOWS = SelectionWindow.__table__
CLOCK = CurateClock.__table__

DAY_S = 86400.0


def window_of(captured_at: float, window_s: float) -> tuple[str, float, float]:
    """The window holding a capture time: (id, start, end). Ids sort in time order."""
    index = math.floor(captured_at / window_s)
    start = index * window_s
    stamp = datetime.fromtimestamp(start, UTC).strftime("%Y%m%dT%H%M%S")
    return f"w{stamp}-{int(window_s)}s", start, start + window_s


def window_span(window_id: str) -> tuple[float, float] | None:
    """(start, end) of a window from its id (the inverse of window_of); None for another form."""
    stamp, _, size = window_id.removeprefix("w").partition("-")
    try:
        start = datetime.strptime(stamp, "%Y%m%dT%H%M%S").replace(tzinfo=UTC).timestamp()
        return start, start + float(size.removesuffix("s"))
    except ValueError:
        return None


def day_of(start: float) -> tuple[float, float]:
    day = math.floor(start / DAY_S) * DAY_S
    return day, day + DAY_S


def is_due(end: float, watermark: float, lateness_s: float) -> bool:
    """A window is chosen from once frames captured `lateness_s` after its end have been seen."""
    return watermark >= end + lateness_s


# -- the windows' rows: joining one, finding those due, the day's use of the budget ----------------


def read_watermark(connection: Connection) -> float | None:
    value = connection.execute(sa.select(CLOCK.c.watermark).where(CLOCK.c.name == "events")).scalar()
    return None if value is None else float(value)


def watermark(engine: Engine) -> float:
    with engine.connect() as connection:
        return read_watermark(connection) or 0.0


def _closed(connection: Connection, window: str) -> bool | None:
    """Whether the window is closed; None when it does not exist yet. On PostgreSQL the row stays
    locked to the end of the transaction, so a replica closing it waits (or is waited for)."""
    return connection.execute(
        sa.select(WINDOWS.c.closed).where(WINDOWS.c.window_id == window).with_for_update()
    ).scalar()


def join_window(connection: Connection, captured_at: float, window_s: float) -> str:
    """The frame's window, advancing the watermark; a frame later than its closed window joins
    the first open window from the watermark's on instead of being lost. Call it in the
    transaction that stores the frame's window, so no close can fall between the two."""
    if read_watermark(connection) is None:
        try:
            with connection.begin_nested():
                connection.execute(CLOCK.insert().values(name="events", watermark=captured_at))
        except sa.exc.IntegrityError:
            pass
    connection.execute(
        CLOCK.update().where(CLOCK.c.name == "events", CLOCK.c.watermark < captured_at).values(watermark=captured_at)
    )
    window, start, end = window_of(captured_at, window_s)
    if not _closed(connection, window):
        return _ensure(connection, window, start, end)
    # Re-read: another replica may have moved it on since this transaction began.
    mark = read_watermark(connection) or 0.0
    return first_open_window(connection, max(captured_at, mark, end), window_s)


def first_open_window(connection: Connection, moment: float, window_s: float) -> str:
    """The window holding `moment` or, when that one is closed (a flush, a quiet fleet), the
    first open one after it; created when it does not exist yet."""
    window, start, end = window_of(moment, window_s)
    closed = _closed(connection, window)
    while closed:
        window, start, end = window_of(end, window_s)
        closed = _closed(connection, window)
    return _ensure(connection, window, start, end) if closed is None else window


def _ensure(connection: Connection, window: str, start: float, end: float) -> str:
    if _closed(connection, window) is None:  # no such window yet
        try:
            with connection.begin_nested():
                connection.execute(
                    WINDOWS.insert().values(
                        window_id=window,
                        start=start,
                        end=end,
                        closed=False,
                        budget=0,
                        candidates=0,
                        selected=0,
                        camera_cap=0,
                    )
                )
        except sa.exc.IntegrityError:
            pass  # another replica created it a moment ago
    return window


def open_windows(engine: Engine, due: Callable[[float], bool]) -> list[str]:
    """Open windows, oldest first, whose end makes `due` true."""
    with engine.connect() as connection:
        rows = connection.execute(
            sa.select(WINDOWS.c.window_id, WINDOWS.c.end).where(WINDOWS.c.closed.is_(False)).order_by(WINDOWS.c.start)
        ).all()
    return [window for window, end in rows if due(end)]


def window_state(engine: Engine, window: str) -> dict[str, Any] | None:
    with engine.connect() as connection:
        row = connection.execute(sa.select(WINDOWS).where(WINDOWS.c.window_id == window)).mappings().first()
        return dict(row) if row else None


def selected_on_day(connection: Connection, moment: float) -> int:
    """Frames chosen by the closed windows of the UTC day holding `moment` (the day budget's use)."""
    day_start, day_end = day_of(moment)
    return int(
        connection.execute(
            sa.select(sa.func.coalesce(sa.func.sum(WINDOWS.c.selected), 0)).where(
                WINDOWS.c.closed.is_(True), WINDOWS.c.start >= day_start, WINDOWS.c.start < day_end
            )
        ).scalar_one()
    )
