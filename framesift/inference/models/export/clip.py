"""OpenCLIP model -> `clip_image` and `clip_text` ONNX files plus the tokenizer's files.

The exported image model takes what the embed service's preprocessing gives every backend (CLIP
mean/std at the model's image size) and re-normalises inside the graph where the model was
trained with other statistics, so the service preprocesses once for all models.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import open_clip
import torch
from open_clip.tokenizer import SimpleTokenizer, _clean_lower

from ...preprocess import CLIP_MEAN, CLIP_STD
from ...text.tokenizer import KIND, TOKENIZER_FILE
from ..configs import Batching, Device, clip_image_config, clip_text_config
from ..repository import CLIP_IMAGE, CLIP_TEXT, TOKENIZER_FOLDER, model_files
from .onnx_files import export_onnx

CLIP_VOCABULARY = 49408


class ExportError(ValueError):
    """The model cannot be exported as asked; the message says why."""


@dataclass(frozen=True)
class LoadedClip:
    model: torch.nn.Module
    tokenizer: SimpleTokenizer
    name: str
    checkpoint: str
    input_size: int
    embedding_dim: int
    context_length: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]


def load_clip(name: str, checkpoint: str, model_config: Path | None = None) -> LoadedClip:
    """`checkpoint`: a weights file, or an OpenCLIP pretrained tag (needs its download to work).

    Refuses to go on without weights: an export of a randomly initialised model is never useful.
    """
    if model_config is not None:
        open_clip.add_model_config(model_config)
    if name not in open_clip.list_models():
        raise ExportError(f"unknown OpenCLIP model {name!r} (a custom one needs --clip-config)")
    try:
        model = open_clip.create_model(name, pretrained=checkpoint, require_pretrained=True)
    except (RuntimeError, FileNotFoundError, OSError) as exc:
        raise ExportError(f"cannot load {name} weights from {checkpoint!r}: {exc}") from exc
    model.eval()
    tokenizer = open_clip.get_tokenizer(name)
    if (
        type(tokenizer) is not SimpleTokenizer
        or tokenizer.reduction_fn is not None
        or tokenizer.clean_fn is not _clean_lower
        or tokenizer.vocab_size != CLIP_VOCABULARY
    ):
        # framesift's run-time tokenizer implements exactly this one (services/embed/text).
        raise ExportError(f"{name}'s tokenizer is not CLIP's plain BPE tokenizer; it is not exported yet")
    size = model.visual.image_size
    if isinstance(size, tuple | list):
        if len(set(size)) != 1:
            raise ExportError(f"{name} takes non-square images {size}")
        size = size[0]
    config = getattr(model.visual, "preprocess_cfg", {})
    with torch.no_grad():
        dim = int(model.encode_image(torch.zeros(1, 3, size, size)).shape[-1])
    return LoadedClip(
        model=model,
        tokenizer=tokenizer,
        name=name,
        checkpoint=checkpoint,
        input_size=int(size),
        embedding_dim=dim,
        context_length=int(tokenizer.context_length),
        mean=tuple(config.get("mean", CLIP_MEAN.tolist())),
        std=tuple(config.get("std", CLIP_STD.tolist())),
    )


class ImageEncoder(torch.nn.Module):
    """CLIP-normalised pixels -> unit-length image embedding."""

    def __init__(self, clip: LoadedClip) -> None:
        super().__init__()
        self.model = clip.model
        # pixels * (clip_std / std) + (clip_mean - mean) / std: the identity for OpenAI's statistics.
        mean, std = torch.tensor(clip.mean), torch.tensor(clip.std)
        clip_mean, clip_std = torch.from_numpy(CLIP_MEAN), torch.from_numpy(CLIP_STD)
        self.register_buffer("scale", (clip_std / std).view(1, 3, 1, 1))
        self.register_buffer("shift", ((clip_mean - mean) / std).view(1, 3, 1, 1))

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        return self.model.encode_image(pixels * self.scale + self.shift, normalize=True)


class TextEncoder(torch.nn.Module):
    """Token ids (CLIP BPE, padded to the context length) -> unit-length text embedding."""

    def __init__(self, clip: LoadedClip) -> None:
        super().__init__()
        self.model = clip.model

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.model.encode_text(tokens, normalize=True)


def write_clip(clip: LoadedClip, root: Path, *, device: Device, batching: Batching) -> None:
    size, dim = clip.input_size, clip.embedding_dim
    image, text = model_files(root, CLIP_IMAGE), model_files(root, CLIP_TEXT)
    export_onnx(
        ImageEncoder(clip),
        (torch.zeros(2, 3, size, size),),
        image.onnx,
        inputs=["pixels"],
        outputs=["embedding"],
        dynamic={"pixels": {0: "n"}, "embedding": {0: "n"}},
    )
    image.config.write_text(clip_image_config(size, dim, device=device, batching=batching))
    tokens = clip.tokenizer(["a photo of a cyclist at night", "a parked car"])
    export_onnx(
        TextEncoder(clip),
        (tokens,),
        text.onnx,
        inputs=["tokens"],
        outputs=["embedding"],
        dynamic={"tokens": {0: "n"}, "embedding": {0: "n"}},
    )
    text.config.write_text(clip_text_config(clip.context_length, dim, device=device, batching=batching))
    _write_tokenizer(clip, root / CLIP_TEXT / TOKENIZER_FOLDER)


def _write_tokenizer(clip: LoadedClip, folder: Path) -> None:
    from open_clip.tokenizer import default_bpe

    folder.mkdir(parents=True, exist_ok=True)
    merges = Path(default_bpe())
    shutil.copyfile(merges, folder / merges.name)
    spec = {"kind": KIND, "merges": merges.name, "context_length": clip.context_length, "clean": "lower"}
    (folder / TOKENIZER_FILE).write_text(json.dumps(spec, indent=2) + "\n")
