"""Camera registry: create cameras with API keys (shown once, stored hashed) and check them."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
from datetime import UTC, datetime

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from framesift.contracts.identifiers import validate_camera_id

from .tables import Camera

KEY_PREFIX = "fsk_"


class CameraExistsError(ValueError):
    pass


class CameraNotFoundError(LookupError):
    pass


class UnauthenticatedError(PermissionError):
    """Unknown camera, disabled camera, or a wrong/missing key; the caller cannot tell which."""


def hash_key(api_key: str) -> str:
    return hashlib.sha256(api_key.encode()).hexdigest()


class CameraRegistry:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def add(self, camera_id: str) -> str:
        """Create a camera; return its API key (the only time it is visible)."""
        camera_id = validate_camera_id(camera_id)
        api_key = KEY_PREFIX + secrets.token_urlsafe(32)
        with Session(self._engine) as session:
            session.add(Camera(camera_id=camera_id, key_hash=hash_key(api_key), created_at=datetime.now(UTC)))
            try:
                session.commit()
            except IntegrityError:
                raise CameraExistsError(f"camera {camera_id!r} already exists") from None
        return api_key

    def rotate(self, camera_id: str) -> str:
        """Replace a camera's key; the old one stops working at once."""
        api_key = KEY_PREFIX + secrets.token_urlsafe(32)
        with Session(self._engine) as session:
            camera = session.get(Camera, validate_camera_id(camera_id))
            if camera is None:
                raise CameraNotFoundError(f"no camera {camera_id!r}; create it with: framesift cameras add ID")
            camera.key_hash = hash_key(api_key)
            session.add(camera)
            session.commit()
        return api_key

    def cameras(self) -> list[Camera]:
        """Every camera, by id (their key hashes stay in the table)."""
        with Session(self._engine) as session:
            return list(session.exec(select(Camera).order_by(Camera.camera_id)).all())

    def exists(self, camera_id: str) -> bool:
        with Session(self._engine) as session:
            return session.get(Camera, validate_camera_id(camera_id)) is not None

    def verify(self, camera_id: str, api_key: str | None) -> None:
        with Session(self._engine) as session:
            camera = session.get(Camera, camera_id)
        # Hash even when the camera is unknown, so timing does not reveal which cameras exist.
        presented = hash_key(api_key or "")
        expected = camera.key_hash if camera is not None and not camera.disabled else hash_key(secrets.token_hex())
        if not api_key or not hmac.compare_digest(presented, expected):
            raise UnauthenticatedError(f"unknown camera {camera_id!r} or invalid API key")

    async def verify_async(self, camera_id: str, api_key: str | None) -> None:
        await asyncio.to_thread(self.verify, camera_id, api_key)


def bearer_token(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None
