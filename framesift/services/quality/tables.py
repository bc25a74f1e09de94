"""Quality's tables: one row per decided frame (the source of truth for duplicates and
redelivery), and the sizes each camera sent (odd_size judges a frame against them)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Index, LargeBinary
from sqlmodel import Field, SQLModel


class QualityFrame(SQLModel, table=True):
    __tablename__ = "quality_frames"
    __table_args__ = (
        Index("ix_quality_frames_scope_sha256", "scope", "sha256"),
        Index("ix_quality_frames_scope_kept_id", "scope", "kept", "id"),
        Index("ix_quality_frames_scope_original_id", "scope", "original", "id"),
    )

    # Increasing in decision order: the near-duplicate index syncs from it and breaks ties by it.
    id: int | None = Field(default=None, sa_column_kwargs={"autoincrement": True}, primary_key=True)
    frame_id: str = Field(unique=True, max_length=64)
    camera_id: str = Field(max_length=64)
    scope: str = Field(max_length=64)
    sha256: str = Field(max_length=64)
    # The frame's pHashes (whole frame, then central crops) as big-endian uint64s; empty when corrupt.
    phashes: bytes = Field(default=b"", sa_column=Column(LargeBinary, nullable=False))
    kept: bool
    # Indexed for near duplicates: decodable and not itself a duplicate (kept or rejected).
    original: bool = False
    # The event published for this frame, replayed as is when the frame is delivered again.
    event_type: str = Field(max_length=64)
    event: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    decided_at: datetime


def pack_hashes(hashes: tuple[int, ...]) -> bytes:
    return b"".join(value.to_bytes(8, "big") for value in hashes)


def unpack_hashes(packed: bytes) -> list[int]:
    return [int.from_bytes(packed[i : i + 8], "big") for i in range(0, len(packed), 8)]


class QualitySourceSize(SQLModel, table=True):
    """How many of a camera's recent frames had each size; halved when they pass a window, so
    the usual size follows a camera whose resolution was changed."""

    __tablename__ = "quality_source_sizes"

    camera_id: str = Field(primary_key=True, max_length=64)
    width: int = Field(primary_key=True)
    height: int = Field(primary_key=True)
    frames: int
