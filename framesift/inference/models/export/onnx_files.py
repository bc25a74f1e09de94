"""torch module -> checked ONNX file."""

from __future__ import annotations

import warnings
from pathlib import Path

import onnx
import torch

OPSET = 17


def export_onnx(
    module: torch.nn.Module,
    example: tuple[torch.Tensor, ...],
    path: Path,
    *,
    inputs: list[str],
    outputs: list[str],
    dynamic: dict[str, dict[int, str]],
) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    module.eval()
    # nn.MultiheadAttention's fused inference path has no ONNX form; the plain path computes the same.
    fastpath = torch.backends.mha.get_fastpath_enabled()
    torch.backends.mha.set_fastpath_enabled(False)
    try:
        _export(module, example, path, inputs, outputs, dynamic)
    finally:
        torch.backends.mha.set_fastpath_enabled(fastpath)
    onnx.checker.check_model(str(path))


def _export(module, example, path: Path, inputs, outputs, dynamic) -> None:
    # Tracing warns at every Python-level shape computation of torchvision's detectors; the
    # validation run after the export is what tells whether the graph computes the same thing.
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        warnings.simplefilter("ignore", UserWarning)
        # The TorchScript exporter: torchvision's detectors and OpenCLIP's models export with it
        # as their projects document; it is deprecated in favour of dynamo, which does not take
        # them all yet, and its deprecation warnings say only that.
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", FutureWarning)
        torch.onnx.export(
            module,
            example,
            str(path),
            input_names=inputs,
            output_names=outputs,
            dynamic_axes=dynamic,
            opset_version=OPSET,
            dynamo=False,
        )
