"""Encoding of events on the wire: protobuf bytes plus a header naming the schema.

One declared schema per topic; consumers decode through `decode` and nothing else.
"""

from __future__ import annotations

from google.protobuf.message import DecodeError, Message

from framesift.contracts.topics import Topic, topic_for

SCHEMA_HEADER = "framesift-schema"


class MalformedMessageError(ValueError):
    """A record that cannot be decoded as its topic's schema: it goes to the DLQ, never retried."""


def encode(message: Message) -> tuple[str, bytes, tuple[tuple[str, bytes], ...]]:
    """Return (key, value, headers) for publishing `message` on its topic."""
    topic = topic_for(message)
    headers = ((SCHEMA_HEADER, message.DESCRIPTOR.full_name.encode()),)
    return topic.key_of(message), message.SerializeToString(deterministic=True), headers


def decode(topic: Topic, value: bytes | None, headers: tuple[tuple[str, bytes], ...] = ()) -> Message:
    if value is None:
        raise MalformedMessageError(f"record on {topic.name} has no value (a tombstone)")
    declared = dict(headers).get(SCHEMA_HEADER)
    expected = topic.message_type.DESCRIPTOR.full_name
    if declared is not None and declared.decode(errors="replace") != expected:
        raise MalformedMessageError(
            f"record on {topic.name} declares schema {declared.decode(errors='replace')!r}, expected {expected!r}"
        )
    message = topic.message_type()
    try:
        message.ParseFromString(value)
    except DecodeError as exc:
        raise MalformedMessageError(f"record on {topic.name} is not a valid {expected}: {exc}") from exc
    try:
        topic.key_of(message)
    except ValueError as exc:
        raise MalformedMessageError(f"record on {topic.name}: {exc}") from exc
    return message


def require_frame_fields(message: Message, camera_id: str, object_key: str) -> None:
    """A frame event must name its frame, a valid camera and a valid object key (never a path)."""
    from framesift.contracts.identifiers import checked_key, validate_camera_id

    name = message.DESCRIPTOR.name
    frame_id = require_frame_id(message)
    try:
        validate_camera_id(camera_id)
        checked_key(object_key)
    except ValueError as exc:
        raise MalformedMessageError(f"{name} {frame_id!r}: {exc}") from exc


def require_frame_id(message: Message) -> str:
    """An event names its frame: a non-empty id of at most 128 characters (the read model's column)."""
    name = message.DESCRIPTOR.name
    frame_id = getattr(message, "frame_id", "")
    if not frame_id:
        raise MalformedMessageError(f"{name} without a frame_id")
    if len(frame_id) > 128:
        raise MalformedMessageError(f"{name} with a frame_id of {len(frame_id)} characters (at most 128)")
    return frame_id
