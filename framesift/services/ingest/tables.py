"""Ingest's tables: cameras with hashed API keys, and the upload ledger that makes retries idempotent."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel


class Camera(SQLModel, table=True):
    __tablename__ = "cameras"

    camera_id: str = Field(primary_key=True, max_length=64)
    # sha256 of the API key: keys are 256-bit random, so a fast hash is enough (no password stretching).
    key_hash: str = Field(max_length=64)
    created_at: datetime
    disabled: bool = False


class UploadLedgerEntry(SQLModel, table=True):
    """The latest frame made from given bytes of a camera; a repeat within the window reuses it."""

    __tablename__ = "upload_ledger"

    camera_id: str = Field(primary_key=True, max_length=64)
    sha256: str = Field(primary_key=True, max_length=64)
    frame_id: str = Field(max_length=36, index=True)
    received_at: datetime
    # False until FrameIngested was acknowledged by the bus; a retry then publishes again.
    published: bool = False
