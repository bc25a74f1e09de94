import pytest

from framesift.contracts.codec import MalformedMessageError, decode, encode
from framesift.contracts.topics import FRAMES_INGESTED, LABELS_COMPLETED, TOPICS, all_topic_names, topic_for
from framesift.v1 import frames_pb2, labels_pb2


def test_topics_come_from_the_contract() -> None:
    assert set(TOPICS) == {
        "frames.ingested",
        "frames.checked",
        "frames.rejected",
        "frames.embedded",
        "frames.selected",
        "labels.completed",
        "eval.reports",
        "labels.flagged",
        "eval.frames",
    }
    assert FRAMES_INGESTED.key_field == "camera_id"
    assert LABELS_COMPLETED.key_field == "frame_id"
    assert "frames.ingested.dlq" in all_topic_names()


def test_round_trip_keyed_by_camera() -> None:
    event = frames_pb2.FrameIngested(frame_id="f1", camera_id="cam-1", sha256="ab" * 32)
    key, value, headers = encode(event)
    assert key == "cam-1"
    assert decode(FRAMES_INGESTED, value, headers) == event


def test_labels_are_keyed_by_frame() -> None:
    key, _, _ = encode(labels_pb2.LabelsCompleted(frame_id="f9", camera_id="cam-1"))
    assert key == "f9"


def test_missing_key_is_refused_on_both_sides() -> None:
    with pytest.raises(ValueError, match="camera_id"):
        encode(frames_pb2.FrameIngested(frame_id="f1"))
    with pytest.raises(MalformedMessageError, match="camera_id"):
        decode(FRAMES_INGESTED, frames_pb2.FrameIngested(frame_id="f1").SerializeToString())


def test_garbage_and_wrong_schema_are_malformed() -> None:
    with pytest.raises(MalformedMessageError):
        decode(FRAMES_INGESTED, b"\xff\xff\xff")
    _, value, headers = encode(labels_pb2.LabelsCompleted(frame_id="f9"))
    with pytest.raises(MalformedMessageError, match="declares schema"):
        decode(FRAMES_INGESTED, value, headers)


def test_non_events_have_no_topic() -> None:
    with pytest.raises(KeyError):
        topic_for(frames_pb2.Box())
