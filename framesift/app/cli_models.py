"""`framesift models ...`: producing the Triton model repository the embed service runs."""

from __future__ import annotations

from pathlib import Path

import click


@click.group()
def models() -> None:
    """Model repositories (Triton layout) for FRAMESIFT_MODEL_REPOSITORY."""


@models.command("export")
@click.option("--clip-model", required=True, help="OpenCLIP model name, e.g. ViT-B-32.")
@click.option(
    "--clip-checkpoint",
    required=True,
    help="The weights: a checkpoint file, or an OpenCLIP pretrained tag (downloads, so needs the hub).",
)
@click.option(
    "--clip-config",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="An OpenCLIP model config (JSON) for a model OpenCLIP does not list.",
)
@click.option("--detector", help="torchvision detector, e.g. fasterrcnn_mobilenet_v3_large_fpn (optional).")
@click.option("--detector-checkpoint", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--detector-classes",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Class names, one per line in class id order; default: the COCO names of torchvision's weights.",
)
@click.option("--score-threshold", default=0.5, show_default=True, type=click.FloatRange(0.0, 1.0))
@click.option("--device", type=click.Choice(["cpu", "gpu"]), default="cpu", show_default=True)
@click.option("--max-batch", default=16, show_default=True, type=click.IntRange(1), help="Triton's max batch size.")
@click.option("--version", "version", help="Stored with every vector; default: the checkpoint's file name or tag.")
@click.option("--out", required=True, type=click.Path(path_type=Path), help="The repository folder (must not exist).")
def export(
    clip_model: str,
    clip_checkpoint: str,
    clip_config: Path | None,
    detector: str | None,
    detector_checkpoint: Path | None,
    detector_classes: Path | None,
    score_threshold: float,
    device: str,
    max_batch: int,
    version: str | None,
    out: Path,
) -> None:
    """Export an OpenCLIP model (and a detector) to ONNX in Triton's layout, then validate it by running it."""
    if (detector is None) != (detector_checkpoint is None):
        raise click.UsageError("--detector and --detector-checkpoint go together")
    try:
        from framesift.inference.models.configs import Batching, Device
        from framesift.inference.models.export.clip import ExportError, load_clip
        from framesift.inference.models.export.detector import load_detector
        from framesift.inference.models.export.repository import ExportOptions, export_repository
    except ImportError as exc:
        raise click.ClickException(
            f'exporting needs the export extra: pip install "framesift[export]" ({exc})'
        ) from exc

    preferred = tuple(size for size in (4, 8, 16, 32) if size <= max_batch) or (max_batch,)
    options = ExportOptions(
        device=Device.GPU if device == "gpu" else Device.CPU,
        batching=Batching(max_batch_size=max_batch, preferred_batch_sizes=preferred),
        score_threshold=score_threshold,
        version=version,
    )
    try:
        clip = load_clip(clip_model, clip_checkpoint, clip_config)
        loaded_detector = (
            load_detector(detector, detector_checkpoint, detector_classes) if detector and detector_checkpoint else None
        )
        result = export_repository(clip, loaded_detector, out, options)
    except ExportError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(
        f"wrote {out}: clip_image + clip_text ({clip.embedding_dim}-d, {clip.input_size} px)"
        + (f" + detector {detector} ({len(loaded_detector.classes)} classes)" if loaded_detector else "")
    )
    click.echo(
        f"validated with onnxruntime against torch: image max diff {result.image_max_difference:.1e}, "
        f"text max diff {result.text_max_difference:.1e}, tokenizer identical: {result.tokens_identical}"
        + (f", detector scores max diff {result.detector_max_difference:.1e}" if loaded_detector else "")
    )
    click.echo(f"serve it: FRAMESIFT_EMBED_BACKEND=local FRAMESIFT_MODEL_REPOSITORY={out} (or triton, see README)")
