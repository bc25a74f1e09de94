"""Tiny model repositories built in the test: the real layout and real ONNX files, no weights.

The models are small graphs with the production interface (names, shapes, dtypes), not trained
networks: they prove the plumbing, never the quality of a model.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from framesift.inference.models.configs import clip_image_config, detector_config

EMBEDDING = 8
DETECTIONS = 3
CLASSES = ("person", "bicycle", "car")


def _save(model: onnx.ModelProto, folder: Path, config: str) -> None:
    (folder / "1").mkdir(parents=True, exist_ok=True)
    onnx.checker.check_model(model)
    onnx.save(model, folder / "1" / "model.onnx")
    (folder / "config.pbtxt").write_text(config)


def _pooled(nodes: list, initializers: list) -> str:
    """pixels (N,3,S,S) -> per-channel means (N,3)."""
    initializers.append(numpy_helper.from_array(np.array([2, 3], dtype=np.int64), "hw"))
    nodes.append(helper.make_node("ReduceMean", ["pixels", "hw"], ["pooled"], keepdims=0))
    return "pooled"


def clip_image_model(seed: int = 0) -> onnx.ModelProto:
    rng = np.random.default_rng(seed)
    nodes: list = []
    initializers = [numpy_helper.from_array(rng.normal(size=(3, EMBEDDING)).astype(np.float32), "w")]
    pooled = _pooled(nodes, initializers)
    nodes.append(helper.make_node("MatMul", [pooled, "w"], ["embedding"]))
    graph = helper.make_graph(
        nodes,
        "clip_image",
        [helper.make_tensor_value_info("pixels", TensorProto.FLOAT, ["n", 3, 224, 224])],
        [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["n", EMBEDDING])],
        initializers,
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])


def detector_model() -> onnx.ModelProto:
    """Scores rise with brightness: a bright frame 'detects' all classes, a dark one none."""
    nodes: list = []
    initializers = [
        numpy_helper.from_array(np.full((3, DETECTIONS), 4.0, dtype=np.float32), "ws"),
        numpy_helper.from_array(np.array([-1.0, 0.0, 1.0], dtype=np.float32), "bias"),
        numpy_helper.from_array(np.arange(DETECTIONS, dtype=np.int64)[None, :], "ids"),
        numpy_helper.from_array(np.array([[[0.1, 0.2, 0.5, 0.6]]] * 1, dtype=np.float32).repeat(DETECTIONS, 1), "box"),
        numpy_helper.from_array(np.array([0], dtype=np.int64), "first"),
        numpy_helper.from_array(np.array([1], dtype=np.int64), "one"),
        numpy_helper.from_array(np.array([DETECTIONS, 4], dtype=np.int64), "k4"),
        numpy_helper.from_array(np.array([DETECTIONS], dtype=np.int64), "k"),
    ]
    pooled = _pooled(nodes, initializers)
    nodes += [
        helper.make_node("MatMul", [pooled, "ws"], ["logits0"]),
        helper.make_node("Add", ["logits0", "bias"], ["logits"]),
        helper.make_node("Sigmoid", ["logits"], ["scores"]),
        helper.make_node("Shape", ["pixels"], ["shape"]),
        helper.make_node("Slice", ["shape", "first", "one"], ["n"]),
        helper.make_node("Concat", ["n", "k4"], ["boxes_shape"], axis=0),
        helper.make_node("Expand", ["box", "boxes_shape"], ["boxes"]),
        helper.make_node("Concat", ["n", "k"], ["ids_shape"], axis=0),
        helper.make_node("Expand", ["ids", "ids_shape"], ["class_ids"]),
    ]
    graph = helper.make_graph(
        nodes,
        "detector",
        [helper.make_tensor_value_info("pixels", TensorProto.FLOAT, ["n", 3, 224, 224])],
        [
            helper.make_tensor_value_info("boxes", TensorProto.FLOAT, ["n", DETECTIONS, 4]),
            helper.make_tensor_value_info("scores", TensorProto.FLOAT, ["n", DETECTIONS]),
            helper.make_tensor_value_info("class_ids", TensorProto.INT64, ["n", DETECTIONS]),
        ],
        initializers,
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])


def write_repository(root: Path, *, detector: bool = True, family: str = "tiny-test") -> Path:
    (root).mkdir(parents=True, exist_ok=True)
    manifest = {
        "family": family,
        "version": "test-1",
        "input_size": 224,
        "embedding_dim": EMBEDDING,
        "detector": {"score_threshold": 0.5},
    }
    (root / "framesift.json").write_text(json.dumps(manifest))
    _save(clip_image_model(), root / "clip_image", clip_image_config(224, EMBEDDING))
    if detector:
        _save(detector_model(), root / "detector", detector_config(224))
        (root / "detector" / "classes.txt").write_text("\n".join(CLASSES) + "\n")
    return root
