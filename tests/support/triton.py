"""A real Triton server (the tritonserver inside nvidia-pytriton, on the CPU) for a model repository.

pytriton's server carries only Triton's Python backend, not the onnxruntime one a production
Triton loads the repository's config.pbtxt with. So each repository model is bound as a Python
model that runs the repository's own ONNX file with onnxruntime: Triton does the serving (gRPC,
dynamic batching, readiness, outages); the numbers come from the repository's files.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path

import numpy as np
import onnxruntime

from framesift.inference.models.repository import CLIP_IMAGE, CLIP_TEXT, DETECTOR, ModelRepository
from tests.support.servers import free_port


def _libpython_on_path() -> None:
    # The Python backend stub links libpython; pyenv interpreters keep it outside the loader's path.
    libdir = sysconfig.get_config_var("LIBDIR") or ""
    current = os.environ.get("LD_LIBRARY_PATH", "")
    if libdir and libdir not in current.split(":"):
        os.environ["LD_LIBRARY_PATH"] = f"{libdir}:{current}" if current else libdir


class TritonForRepository:
    def __init__(self, root: Path, workspace: Path, *, grpc_port: int | None = None) -> None:
        self.repository = ModelRepository.open(root)
        self.workspace = workspace
        self.grpc_port = grpc_port or free_port()
        self._triton = None

    @property
    def url(self) -> str:
        return f"127.0.0.1:{self.grpc_port}"

    def start(self, *, block: bool = False) -> TritonForRepository:
        from pytriton.decorators import batch
        from pytriton.model_config import DynamicBatcher, ModelConfig, Tensor
        from pytriton.triton import Triton, TritonConfig

        _libpython_on_path()
        config = TritonConfig(
            grpc_port=self.grpc_port, http_port=free_port(), metrics_port=free_port(), exit_on_error=True
        )
        triton = Triton(config=config, workspace=self.workspace / f"triton-{self.grpc_port}")
        model_config = ModelConfig(max_batch_size=16, batcher=DynamicBatcher(max_queue_delay_microseconds=2000))
        pixels = Tensor(name="pixels", dtype=np.float32, shape=(3, -1, -1))

        image = onnxruntime.InferenceSession(str(self.repository.clip_image.onnx), providers=["CPUExecutionProvider"])
        dimension = image.get_outputs()[0].shape[-1]

        @batch
        def clip_image(pixels: np.ndarray) -> dict[str, np.ndarray]:
            (embedding,) = image.run(["embedding"], {"pixels": pixels})
            return {"embedding": embedding}

        triton.bind(
            CLIP_IMAGE,
            clip_image,
            inputs=[pixels],
            outputs=[Tensor(name="embedding", dtype=np.float32, shape=(dimension,))],
            config=model_config,
        )
        if self.repository.clip_text is not None:
            text = onnxruntime.InferenceSession(str(self.repository.clip_text.onnx), providers=["CPUExecutionProvider"])

            @batch
            def clip_text(tokens: np.ndarray) -> dict[str, np.ndarray]:
                (embedding,) = text.run(["embedding"], {"tokens": tokens})
                return {"embedding": embedding}

            triton.bind(
                CLIP_TEXT,
                clip_text,
                inputs=[Tensor(name="tokens", dtype=np.int64, shape=(-1,))],
                outputs=[Tensor(name="embedding", dtype=np.float32, shape=(dimension,))],
                config=model_config,
            )
        if self.repository.detector is not None:
            self._bind_detector(triton, model_config, pixels)
        self._triton = triton
        if block:
            triton.serve()  # until the process is killed
        else:
            triton.run()  # returns once the server and its models are ready
        return self

    def _bind_detector(self, triton, model_config, pixels) -> None:
        from pytriton.decorators import batch
        from pytriton.model_config import ModelConfig, Tensor

        detector = onnxruntime.InferenceSession(str(self.repository.detector.onnx), providers=["CPUExecutionProvider"])
        names = ["boxes", "scores", "class_ids"]

        def detect(pixels: np.ndarray) -> dict[str, np.ndarray]:
            return dict(zip(names, detector.run(names, {"pixels": pixels}), strict=True))

        def detect_each(requests) -> list[dict[str, np.ndarray]]:  # pytriton's unbatched interface
            return [detect(request["pixels"]) for request in requests]

        # A per-frame detector (exported torchvision models) takes exactly one frame, unbatched.
        lead = (1,) if self.repository.detector_per_frame else ()
        triton.bind(
            DETECTOR,
            detect_each if lead else batch(detect),
            inputs=[Tensor(name="pixels", dtype=np.float32, shape=(1, 3, -1, -1)) if lead else pixels],
            outputs=[
                Tensor(name="boxes", dtype=np.float32, shape=(*lead, -1, 4)),
                Tensor(name="scores", dtype=np.float32, shape=(*lead, -1)),
                Tensor(name="class_ids", dtype=np.int64, shape=(*lead, -1)),
            ],
            config=ModelConfig(batching=False) if lead else model_config,
        )

    def stop(self) -> None:
        if self._triton is not None:
            self._triton.stop()
            self._triton = None


class TritonProcess:
    """The same server in a child process group, so that a test can kill it like a crash and
    start it again on the same port (pytriton cannot restart inside one process)."""

    def __init__(self, root: Path, workspace: Path, grpc_port: int) -> None:
        self.root, self.workspace, self.grpc_port = root, workspace, grpc_port
        self._process: subprocess.Popen | None = None
        self._starts = 0

    @property
    def url(self) -> str:
        return f"127.0.0.1:{self.grpc_port}"

    def start(self) -> None:
        self._starts += 1
        # pytriton wants a fresh workspace, short enough for its IPC socket paths (107 bytes).
        workspace = self._scratch = Path(tempfile.mkdtemp(prefix="fs-triton-"))
        self.workspace.mkdir(parents=True, exist_ok=True)
        log = (self.workspace / f"triton-{self._starts}.log").open("w")
        command = [sys.executable, "-m", "tests.support.triton", str(self.root), str(workspace), str(self.grpc_port)]
        self._process = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )

    def kill(self) -> None:
        if self._process is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self._process.pid, signal.SIGKILL)
            self._process.wait(timeout=30)
            self._process = None
            shutil.rmtree(self._scratch, ignore_errors=True)


if __name__ == "__main__":  # python -m tests.support.triton ROOT WORKSPACE GRPC_PORT
    TritonForRepository(Path(sys.argv[1]), Path(sys.argv[2]), grpc_port=int(sys.argv[3])).start(block=True)
