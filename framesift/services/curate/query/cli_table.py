"""Query results as the CLI prints them: a table of FrameRecords that fits 100 columns (the last
column wraps), the same for the local read model and for a remote CurationService; or JSON lines.
The priority's parts are in `framesift query --json` and Explain."""

from __future__ import annotations

import io
from collections.abc import Iterable
from typing import Any

from rich.console import Console
from rich.table import Table
from sqlalchemy import Engine

from framesift.contracts.query import parse
from framesift.contracts.vocabulary import reason_names, seconds
from framesift.v1 import curation_pb2

from . import sql
from .ids import resolve_query_ids

WIDTH = 100


def query_rows(engine: Engine, text: str, limit: int) -> list[dict[str, Any]]:
    """The first `limit` rows of a query (no quoted text: that needs the embedding model)."""
    query = parse(text)
    if query.text is not None:
        raise ValueError("a quoted text needs the running service: framesift query --grpc HOST:PORT")
    with engine.connect() as connection:
        query = resolve_query_ids(connection, query)
        return [dict(row) for row in connection.execute(sql.page(query, page_size=limit, page_token="")).mappings()][
            :limit
        ]


def table(records: Iterable[curation_pb2.FrameRecord]) -> list[str]:
    """The lines of the table: a header, then one row (or a few, when `why` wraps) per frame."""
    grid = Table(box=None, pad_edge=False, show_edge=False, header_style="", padding=(0, 1, 0, 0))
    for name, width in (("frame", 12), ("camera", 12), ("captured (UTC)", 14), ("status", 9), ("priority", 8)):
        grid.add_column(name, width=width, no_wrap=True, overflow="ellipsis")
    grid.add_column("why", overflow="fold", ratio=1)
    for record in records:
        grid.add_row(*_cells(record))
    out = io.StringIO()
    Console(file=out, width=WIDTH, force_terminal=False, color_system=None, highlight=False).print(grid)
    return [line.rstrip() for line in out.getvalue().splitlines()]


def _cells(record: curation_pb2.FrameRecord) -> list[str]:
    from datetime import UTC, datetime

    status = curation_pb2.FrameStatus.Name(record.status).removeprefix("FRAME_STATUS_").lower()
    has_priority = record.HasField("priority")
    parts = record.priority
    priority = f"{parts.total:.3f}" if has_priority else "-"
    reasons = " ".join(reason_names(record.reasons))
    why = record.decision or reasons or (f"failed: {record.failure}" if record.failure else "")
    if not why and record.HasField("decision_due"):
        due = datetime.fromtimestamp(seconds(record.decision_due), UTC).strftime("%H:%M:%S")
        why = f"waits for {record.selection_window} (due {due} UTC, or framesift curate flush)"
    classes = ", ".join(sorted(record.detected_classes))
    when = datetime.fromtimestamp(seconds(record.frame.captured_at), UTC).strftime("%m-%d %H:%M:%S")
    return [
        record.frame.frame_id[:12],
        record.frame.camera_id,
        when,
        status,
        priority,
        f"[{classes}] {why}" if classes else why,
    ]
