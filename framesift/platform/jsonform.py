"""Protobuf messages as HTTP JSON: the canonical proto3 JSON mapping (proto field names), with one
change: 64-bit integers are JSON numbers, not strings.

The canonical mapping writes int64 as a string for JavaScript's 53-bit numbers; framesift's
64-bit fields are counts and sizes far below 2**53, and a count that reads "97" is a trap for
every client. (gRPC clients are unaffected: they get the protos themselves.)
"""

from __future__ import annotations

from typing import Any

from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.json_format import MessageToDict
from google.protobuf.message import Message

_INT64 = {
    FieldDescriptor.TYPE_INT64,
    FieldDescriptor.TYPE_UINT64,
    FieldDescriptor.TYPE_SINT64,
    FieldDescriptor.TYPE_FIXED64,
    FieldDescriptor.TYPE_SFIXED64,
}


def as_json(message: Message) -> dict[str, Any]:
    return _numbers(message.DESCRIPTOR, MessageToDict(message, preserving_proto_field_name=True))


def _numbers(descriptor: Descriptor, data: dict[str, Any]) -> dict[str, Any]:
    for field in descriptor.fields:
        if field.name not in data:
            continue
        value = data[field.name]
        if field.message_type is not None and field.message_type.GetOptions().map_entry:
            entry = field.message_type.fields_by_name["value"]
            data[field.name] = {key: _value(entry, item) for key, item in value.items()}
        elif field.is_repeated:
            data[field.name] = [_value(field, item) for item in value]
        else:
            data[field.name] = _value(field, value)
    return data


def _value(field: FieldDescriptor, value: Any) -> Any:
    if field.type in _INT64:
        return int(value)
    if (
        field.message_type is not None
        and isinstance(value, dict)
        and field.message_type.full_name.startswith("framesift.")
    ):
        return _numbers(field.message_type, value)
    return value
