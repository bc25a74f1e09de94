"""Triton `config.pbtxt` for each framesift model: dynamic batching and CPU or GPU instances.

Written by the repository's producers (`framesift models export`, the tests) so that every
repository declares the same inputs, outputs and batching; Triton's own ModelConfig schema checks
the text in the tests.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Device(StrEnum):
    CPU = "KIND_CPU"
    GPU = "KIND_GPU"


@dataclass(frozen=True)
class TensorSpec:
    name: str
    data_type: str  # Triton's TYPE_FP32, TYPE_INT64, ...
    dims: tuple[int, ...]  # without the batch dimension; -1 where it varies


@dataclass(frozen=True)
class Batching:
    max_batch_size: int = 16
    preferred_batch_sizes: tuple[int, ...] = (4, 8, 16)
    max_queue_delay_us: int = 2000  # how long Triton waits to fill a batch


def model_config(
    name: str,
    inputs: list[TensorSpec],
    outputs: list[TensorSpec],
    *,
    device: Device = Device.CPU,
    instances: int = 1,
    batching: Batching | None = Batching(),
) -> str:
    """`batching=None`: the model takes exactly the shapes given (no batch dimension of Triton's)."""

    def tensors(specs: list[TensorSpec]) -> str:
        return ",\n".join(
            f'  {{ name: "{t.name}" data_type: {t.data_type} dims: [ {", ".join(map(str, t.dims))} ] }}' for t in specs
        )

    dynamic = ""
    if batching is not None:
        preferred = ", ".join(str(size) for size in batching.preferred_batch_sizes if size <= batching.max_batch_size)
        dynamic = (
            "dynamic_batching {\n"
            f"  preferred_batch_size: [ {preferred} ]\n"
            f"  max_queue_delay_microseconds: {batching.max_queue_delay_us}\n"
            "}\n"
        )
    return (
        f'name: "{name}"\n'
        'backend: "onnxruntime"\n'
        f"max_batch_size: {batching.max_batch_size if batching else 0}\n"
        f"input [\n{tensors(inputs)}\n]\n"
        f"output [\n{tensors(outputs)}\n]\n"
        f"{dynamic}"
        f"instance_group [ {{ kind: {device.value} count: {instances} }} ]\n"
    )


def clip_image_config(input_size: int, embedding_dim: int, **options) -> str:
    pixels = TensorSpec("pixels", "TYPE_FP32", (3, input_size, input_size))
    return model_config("clip_image", [pixels], [TensorSpec("embedding", "TYPE_FP32", (embedding_dim,))], **options)


def clip_text_config(context_length: int, embedding_dim: int, **options) -> str:
    tokens = TensorSpec("tokens", "TYPE_INT64", (context_length,))
    return model_config("clip_text", [tokens], [TensorSpec("embedding", "TYPE_FP32", (embedding_dim,))], **options)


def detector_config(input_size: int, *, per_frame: bool = False, **options) -> str:
    """`per_frame`: an ONNX file with a fixed batch of one (Triton then adds no batch dimension)."""
    lead = (1,) if per_frame else ()
    pixels = TensorSpec("pixels", "TYPE_FP32", (*lead, 3, input_size, input_size))
    outputs = [
        TensorSpec("boxes", "TYPE_FP32", (*lead, -1, 4)),
        TensorSpec("scores", "TYPE_FP32", (*lead, -1)),
        TensorSpec("class_ids", "TYPE_INT64", (*lead, -1)),
    ]
    if per_frame:
        options["batching"] = None
    return model_config("detector", [pixels], outputs, **options)
