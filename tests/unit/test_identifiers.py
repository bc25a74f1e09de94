import pytest

from framesift.contracts.identifiers import InvalidIdentifierError, frame_object_key, validate_camera_id
from framesift.store.base import checked_key

SHA = "ab" * 32


@pytest.mark.parametrize("camera_id", ["cam-1", "a", "gate_7.north", "x" * 64])
def test_valid_camera_ids(camera_id: str) -> None:
    assert validate_camera_id(camera_id) == camera_id


@pytest.mark.parametrize(
    "camera_id",
    ["", "..", "../etc", "cam/1", ".hidden", "-lead", "CAM", "cam 1", "cam\x00", "x" * 65, "a..b", "cam%2f", "é"],
)
def test_invalid_camera_ids_are_refused(camera_id: str) -> None:
    with pytest.raises(InvalidIdentifierError):
        validate_camera_id(camera_id)


def test_object_key_is_content_addressed_under_the_camera_prefix() -> None:
    assert frame_object_key("cam-1", SHA, "jpg") == f"frames/cam-1/ab/{SHA}.jpg"


@pytest.mark.parametrize(("sha", "ext"), [("AB" * 32, "jpg"), ("ab" * 31, "jpg"), (SHA, "../x"), (SHA, "")])
def test_object_key_refuses_bad_parts(sha: str, ext: str) -> None:
    with pytest.raises(InvalidIdentifierError):
        frame_object_key("cam-1", sha, ext)


@pytest.mark.parametrize("key", ["../x", "a/../b", "/abs", "a//b", "a/./b", "", "a/b/"])
def test_store_refuses_keys_that_could_escape(key: str) -> None:
    with pytest.raises(ValueError, match="invalid object key"):
        checked_key(key)
