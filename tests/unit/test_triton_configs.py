"""The config.pbtxt framesift writes is a valid Triton ModelConfig with batching and instances."""

from __future__ import annotations

import pytest
from google.protobuf import text_format
from tritonclient.grpc import model_config_pb2

from framesift.inference.models.configs import Batching, Device, clip_image_config, detector_config


def parsed(text: str) -> model_config_pb2.ModelConfig:
    return text_format.Parse(text, model_config_pb2.ModelConfig())


@pytest.mark.parametrize(("device", "kind"), [(Device.CPU, "KIND_CPU"), (Device.GPU, "KIND_GPU")])
def test_clip_image_config(device: Device, kind: str) -> None:
    config = parsed(clip_image_config(224, 512, device=device, instances=2))
    assert config.name == "clip_image"
    assert config.backend == "onnxruntime"
    assert config.max_batch_size == 16
    [pixels] = config.input
    assert (pixels.name, list(pixels.dims)) == ("pixels", [3, 224, 224])
    assert pixels.data_type == model_config_pb2.TYPE_FP32
    [embedding] = config.output
    assert (embedding.name, list(embedding.dims)) == ("embedding", [512])
    assert list(config.dynamic_batching.preferred_batch_size) == [4, 8, 16]
    assert config.dynamic_batching.max_queue_delay_microseconds == 2000
    [group] = config.instance_group
    assert model_config_pb2.ModelInstanceGroup.Kind.Name(group.kind) == kind
    assert group.count == 2


def test_detector_config_outputs_and_batching() -> None:
    config = parsed(detector_config(640, batching=Batching(max_batch_size=8, max_queue_delay_us=500)))
    outputs = {tensor.name: (list(tensor.dims), tensor.data_type) for tensor in config.output}
    assert outputs == {
        "boxes": ([-1, 4], model_config_pb2.TYPE_FP32),
        "scores": ([-1], model_config_pb2.TYPE_FP32),
        "class_ids": ([-1], model_config_pb2.TYPE_INT64),
    }
    assert config.max_batch_size == 8
    assert list(config.dynamic_batching.preferred_batch_size) == [4, 8]  # none above the maximum
    assert config.dynamic_batching.max_queue_delay_microseconds == 500
