"""Validation of every identifier that becomes an object key, a path or a record key.

Object keys are built here from validated parts only, so no caller can reach outside a prefix.
"""

from __future__ import annotations

import re

# Lower-case letters, digits, '.', '_' and '-'; starts with a letter or digit; at most 64 chars.
# No '/', no '..' segment possible (a leading '.' is refused and '/' is not allowed at all).
_CAMERA_ID = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")
_SHA256 = re.compile(r"[0-9a-f]{64}")

FRAMES_PREFIX = "frames"


class InvalidIdentifierError(ValueError):
    """An identifier that must not become part of a key or a path."""


def validate_camera_id(camera_id: str) -> str:
    if not _CAMERA_ID.fullmatch(camera_id) or ".." in camera_id:
        raise InvalidIdentifierError(
            f"invalid camera id {camera_id!r}: use 1-64 characters from a-z, 0-9, '.', '_', '-', "
            "starting with a letter or digit"
        )
    return camera_id


def validate_sha256(digest: str) -> str:
    if not _SHA256.fullmatch(digest):
        raise InvalidIdentifierError(f"invalid sha256 {digest!r}: expected 64 lower-case hex digits")
    return digest


def frame_object_key(camera_id: str, sha256: str, extension: str) -> str:
    """Content-addressed key: the same bytes from the same camera always land on the same key."""
    if not re.fullmatch(r"[a-z0-9]{1,5}", extension):
        raise InvalidIdentifierError(f"invalid extension {extension!r}")
    camera = validate_camera_id(camera_id)
    digest = validate_sha256(sha256)
    return f"{FRAMES_PREFIX}/{camera}/{digest[:2]}/{digest}.{extension}"


# Object keys: segments of letters, digits, '.', '_', '-' separated by '/'; no empty, '.' or '..'
# segment. Every store checks a key again before it touches anything.
_KEY = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]*(/[A-Za-z0-9_-][A-Za-z0-9._-]*)*")


def checked_key(key: str) -> str:
    if len(key) > 512 or not _KEY.fullmatch(key) or ".." in key.split("/"):
        raise ValueError(f"invalid object key {key!r}")
    return key
