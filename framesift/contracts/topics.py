"""The topics, read from the contract: each event message declares its topic and key field.

Nothing else in the code base spells a topic name; use `TOPICS`, `topic_for` or `Topic.dlq`.
"""

from __future__ import annotations

from dataclasses import dataclass

from google.protobuf.message import Message

from framesift.v1 import evaluation_pb2, frames_pb2, labels_pb2, options_pb2

DLQ_SUFFIX = ".dlq"


@dataclass(frozen=True)
class Topic:
    name: str
    message_type: type[Message]
    key_field: str

    @property
    def dlq(self) -> str:
        return self.name + DLQ_SUFFIX

    def key_of(self, message: Message) -> str:
        key = getattr(message, self.key_field)
        if not key:
            raise ValueError(f"{self.message_type.__name__}.{self.key_field} (the record key) is empty")
        return key


def _declared(message_type: type[Message]) -> Topic:
    options = message_type.DESCRIPTOR.GetOptions()
    name = options.Extensions[options_pb2.topic]
    key_field = options.Extensions[options_pb2.key_field]
    if not name or not key_field:
        raise RuntimeError(f"{message_type.__name__} declares no topic/key_field option")
    return Topic(name=name, message_type=message_type, key_field=key_field)


_EVENT_TYPES: tuple[type[Message], ...] = (
    frames_pb2.FrameIngested,
    frames_pb2.FrameChecked,
    frames_pb2.FrameRejected,
    frames_pb2.FrameEmbedded,
    frames_pb2.FrameSelected,
    labels_pb2.LabelsCompleted,
    evaluation_pb2.EvaluationReport,
    evaluation_pb2.LabelFlagged,
    evaluation_pb2.FrameEvaluated,
)

TOPICS: dict[str, Topic] = {topic.name: topic for topic in map(_declared, _EVENT_TYPES)}
_BY_TYPE: dict[type[Message], Topic] = {topic.message_type: topic for topic in TOPICS.values()}

FRAMES_INGESTED = _BY_TYPE[frames_pb2.FrameIngested]
FRAMES_CHECKED = _BY_TYPE[frames_pb2.FrameChecked]
FRAMES_REJECTED = _BY_TYPE[frames_pb2.FrameRejected]
FRAMES_EMBEDDED = _BY_TYPE[frames_pb2.FrameEmbedded]
FRAMES_SELECTED = _BY_TYPE[frames_pb2.FrameSelected]
LABELS_COMPLETED = _BY_TYPE[labels_pb2.LabelsCompleted]
EVAL_REPORTS = _BY_TYPE[evaluation_pb2.EvaluationReport]
LABELS_FLAGGED = _BY_TYPE[evaluation_pb2.LabelFlagged]
EVAL_FRAMES = _BY_TYPE[evaluation_pb2.FrameEvaluated]


def topic_for(message: Message | type[Message]) -> Topic:
    message_type = message if isinstance(message, type) else type(message)
    try:
        return _BY_TYPE[message_type]
    except KeyError:
        raise KeyError(f"{message_type.__name__} is not an event on any topic") from None


def all_topic_names(*, with_dlq: bool = True) -> list[str]:
    names = list(TOPICS)
    return names + [TOPICS[name].dlq for name in names] if with_dlq else names
