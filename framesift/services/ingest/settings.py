"""Ingest's settings section (FRAMESIFT_INGEST__*)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field


class IngestSettings(BaseModel):
    max_upload_bytes: Annotated[int, Field(ge=1)] = 20 * 1024 * 1024
    # Same bytes from the same camera within this window is a retry, not a new frame.
    dedup_window_s: Annotated[float, Field(ge=0)] = 24 * 3600.0
    # A capture time further ahead of this server's clock is refused: one camera with a wrong
    # clock would otherwise drag curate's event-time windows (and everyone's frames) into its future.
    max_clock_ahead_s: Annotated[float, Field(ge=0)] = 300.0
