"""Embed's settings section (FRAMESIFT_EMBED__*). Which backend computes the vectors is the
platform's FRAMESIFT_EMBED_BACKEND (curate embeds query images and texts with the same one)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field


class EmbedSettings(BaseModel):
    # Threads decoding and preprocessing frames.
    workers: Annotated[int, Field(ge=1)] = 2
    # Consumers of frames.checked in one embed process; their frames are batched together.
    concurrency: Annotated[int, Field(ge=1)] = 4
    max_batch: Annotated[int, Field(ge=1)] = 8
    max_wait_s: Annotated[float, Field(ge=0)] = 0.01
