"""`framesift models export` on tiny models of the real families, built here (no hub, no trained
weights): an OpenCLIP ViT and torchvision's SSDlite. What is proved is the export path — loading
a checkpoint file, the ONNX graphs, the tokenizer, the configs — never the quality of a model.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from google.protobuf import text_format

open_clip = pytest.importorskip("open_clip", reason="the export extra is not installed")
import torch  # noqa: E402
from torchvision.models import get_model  # noqa: E402
from tritonclient.grpc import model_config_pb2  # noqa: E402

from framesift.app.cli import main  # noqa: E402
from framesift.inference.backends.local import LocalOnnxBackend  # noqa: E402
from framesift.inference.backends.triton import TritonBackend  # noqa: E402
from framesift.inference.models.export.detector import DetectorForFrames  # noqa: E402
from framesift.inference.models.repository import ModelRepository  # noqa: E402
from framesift.inference.preprocess import prepare  # noqa: E402
from framesift.inference.text.tokenizer import ClipTokenizer  # noqa: E402
from tests.support.scenes import encode, scene  # noqa: E402
from tests.support.servers import free_port  # noqa: E402
from tests.support.triton import TritonProcess  # noqa: E402
from tests.support.waiting import eventually  # noqa: E402

TINY_CLIP = {
    "embed_dim": 16,
    "vision_cfg": {"image_size": 64, "layers": 1, "width": 32, "head_width": 16, "patch_size": 16},
    "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 1},
}
CLASSES = ("__background__", "person", "bicycle", "car")
DETECTOR = "ssdlite320_mobilenet_v3_large"


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Checkpoint files of tiny models, as an operator would have trained ones."""
    folder = tmp_path_factory.mktemp("tiny-models")
    config = folder / "tiny-clip.json"
    config.write_text(json.dumps(TINY_CLIP))
    open_clip.add_model_config(config)
    torch.manual_seed(0)
    torch.save(open_clip.create_model("tiny-clip").state_dict(), folder / "clip.pt")
    detector = get_model(DETECTOR, weights=None, weights_backbone=None, num_classes=len(CLASSES))
    with torch.no_grad():  # spread the class scores (untrained: all 1/4) so that detections can be compared
        for layer in detector.head.classification_head.modules():
            if isinstance(layer, torch.nn.Conv2d) and layer.bias is not None:
                layer.bias.normal_(0.0, 3.0)
    torch.save(detector.state_dict(), folder / "detector.pt")
    (folder / "classes.txt").write_text("\n".join(CLASSES) + "\n")
    return {
        "config": config,
        "clip": folder / "clip.pt",
        "detector": folder / "detector.pt",
        "classes": folder / "classes.txt",
        "root": folder,
    }


def export(tiny: dict[str, Path], out: Path, *extra: str):
    return CliRunner().invoke(
        main,
        [
            "models",
            "export",
            "--clip-model",
            "tiny-clip",
            "--clip-checkpoint",
            str(tiny["clip"]),
            "--clip-config",
            str(tiny["config"]),
            "--out",
            str(out),
            *extra,
        ],
    )


@pytest.fixture(scope="module")
def exported(tiny: dict[str, Path]) -> Path:
    out = tiny["root"] / "repository"
    result = export(
        tiny,
        out,
        "--detector",
        DETECTOR,
        "--detector-checkpoint",
        str(tiny["detector"]),
        "--detector-classes",
        str(tiny["classes"]),
        "--score-threshold",
        "0.3",
        "--max-batch",
        "8",
    )
    assert result.exit_code == 0, result.output
    assert "validated with onnxruntime against torch" in result.output
    return out


def loaded_clip(tiny):
    model = open_clip.create_model("tiny-clip", pretrained=str(tiny["clip"]))
    return model.eval()


def test_the_repository_has_triton_layout_configs_and_manifest(exported: Path) -> None:
    repository = ModelRepository.open(exported)
    assert (repository.family, repository.version, repository.input_size) == ("tiny-clip", "clip.pt", 64)
    assert repository.embedding_dim == 16
    assert repository.classes == CLASSES
    assert repository.detector_per_frame
    assert repository.score_threshold == 0.3
    configs = {
        name: text_format.Parse((exported / name / "config.pbtxt").read_text(), model_config_pb2.ModelConfig())
        for name in ("clip_image", "clip_text", "detector")
    }
    assert configs["clip_image"].max_batch_size == 8
    assert configs["clip_image"].HasField("dynamic_batching")
    assert list(configs["clip_image"].input[0].dims) == [3, 64, 64]
    assert list(configs["clip_text"].input[0].dims) == [77]
    assert configs["clip_text"].HasField("dynamic_batching")
    assert configs["detector"].max_batch_size == 0
    assert list(configs["detector"].input[0].dims) == [1, 3, 64, 64]
    assert (exported / "clip_text" / "tokenizer" / "tokenizer.json").is_file()
    assert not (exported.parent / "repository.partial").exists()


async def test_the_service_path_embeds_like_openclip_itself(exported: Path, tiny) -> None:
    """Our decode + preprocessing + ONNX vs OpenCLIP's own transforms + torch, on a JPEG frame."""
    import io

    from PIL import Image

    model = loaded_clip(tiny)
    transform = open_clip.image_transform(64, is_train=False)
    data = encode(scene(640, 360, seed=4))
    backend = LocalOnnxBackend(ModelRepository.open(exported))
    [ours] = await backend.embed_images(prepare(data, backend.input_size).pixels[None])
    backend.close()
    with torch.no_grad():
        theirs = model.encode_image(transform(Image.open(io.BytesIO(data)))[None], normalize=True)[0].numpy()
    # Not bit-equal: our JPEG decode is reduced-size (libjpeg's DCT scaling) before the resize.
    cosine = float(ours.vectors["clip"] @ theirs)
    assert cosine > 0.99, cosine


@pytest.mark.parametrize(
    "text",
    [
        "a cyclist at night",
        "  Red   CAR, parked!!  ",
        "Straße & café — naïve résumé 東京 🚲",
        "it's &amp; they'll don't 2024-11-25 12:00",
        "word " * 120,  # longer than the context: truncated, ends with the end token
    ],
)
def test_the_runtime_tokenizer_gives_openclips_ids(exported: Path, text: str) -> None:
    ours = ClipTokenizer.open(exported / "clip_text" / "tokenizer")([text])
    theirs = open_clip.get_tokenizer("tiny-clip")([text]).numpy()
    np.testing.assert_array_equal(ours, theirs)


async def test_text_embeddings_equal_torchs(exported: Path, tiny) -> None:
    model = loaded_clip(tiny)
    backend = LocalOnnxBackend(ModelRepository.open(exported))
    ours = await backend.embed_text("a bicycle leaning on a wall")
    backend.close()
    with torch.no_grad():
        theirs = model.encode_text(
            open_clip.get_tokenizer("tiny-clip")(["a bicycle leaning on a wall"]), normalize=True
        )
    np.testing.assert_allclose(ours, theirs[0].numpy(), atol=1e-5)
    assert abs(float(np.linalg.norm(ours)) - 1.0) < 1e-5


async def test_detections_equal_the_torch_detectors(exported: Path, tiny) -> None:
    detector = get_model(DETECTOR, weights=None, weights_backbone=None, num_classes=len(CLASSES))
    detector.load_state_dict(torch.load(tiny["detector"], weights_only=True))
    wrapper = DetectorForFrames(detector.eval(), 64)
    frames = np.stack([prepare(encode(scene(320, 240, seed=s)), 64).pixels for s in range(3)])
    backend = LocalOnnxBackend(ModelRepository.open(exported))
    embedded = await backend.embed_images(frames)  # a batch of 3 through a per-frame detector
    backend.close()
    found_any = 0
    for frame, embedding in zip(frames, embedded, strict=True):
        with torch.no_grad():
            _boxes, scores, labels = (t[0].numpy() for t in wrapper(torch.from_numpy(frame[None])))
        keep = scores >= 0.3
        expected = sorted(zip(scores[keep].round(4), labels[keep], strict=False), key=lambda p: -p[0])
        got = [(round(d.score, 4), d.class_id) for d in embedding.detections]
        assert [label for _, label in got] == [int(label) for _, label in expected]
        np.testing.assert_allclose([s for s, _ in got], [s for s, _ in expected], atol=1e-4)
        assert all(CLASSES[d.class_id] == d.class_name for d in embedding.detections)
        assert all(0.0 <= v <= 1.0 for d in embedding.detections for v in d.box)
        found_any += len(got)
    assert found_any > 0, "the spread detector should find something above 0.3"


async def test_triton_serves_the_exported_repository_like_local(exported: Path, tmp_path: Path) -> None:
    server = TritonProcess(exported, tmp_path, free_port())
    server.start()
    repository = ModelRepository.open(exported)
    triton, local = TritonBackend(repository, server.url), LocalOnnxBackend(repository)
    try:
        await eventually(triton.ready, timeout=120, what="Triton serving clip_image, clip_text and detector")
        frames = np.stack([prepare(encode(scene(320, 240, seed=s)), 64).pixels for s in range(3)])
        remote, here = await triton.embed_images(frames), await local.embed_images(frames)
        for a, b in zip(remote, here, strict=True):
            np.testing.assert_allclose(a.vectors["clip"], b.vectors["clip"], atol=1e-5)
            assert [(d.class_id, round(d.score, 4)) for d in a.detections] == [
                (d.class_id, round(d.score, 4)) for d in b.detections
            ]
        np.testing.assert_allclose(await triton.embed_text("a car"), await local.embed_text("a car"), atol=1e-5)
    finally:
        await triton.close()
        local.close()
        server.kill()


def test_refuses_missing_weights_a_used_folder_and_a_mismatched_detector(tiny, exported: Path, tmp_path: Path) -> None:
    missing = export({**tiny, "clip": tmp_path / "nope.pt"}, tmp_path / "a")
    assert missing.exit_code != 0
    assert "cannot load tiny-clip weights" in missing.output
    assert not (tmp_path / "a").exists()
    assert not (tmp_path / "a.partial").exists()

    used = export(tiny, exported)
    assert used.exit_code != 0
    assert "already exists" in used.output

    classes = tmp_path / "two.txt"
    classes.write_text("__background__\nperson\n")
    mismatched = export(
        tiny,
        tmp_path / "b",
        "--detector",
        DETECTOR,
        "--detector-checkpoint",
        str(tiny["detector"]),
        "--detector-classes",
        str(classes),
    )
    assert mismatched.exit_code != 0
    assert "does not fit" in mismatched.output

    lonely = export(tiny, tmp_path / "c", "--detector", DETECTOR)
    assert lonely.exit_code != 0
    assert "go together" in lonely.output


async def test_an_exported_repository_gives_curate_text_search(exported: Path, embedded_settings) -> None:
    """The whole path on the exported files: frames embedded by the local backend, then
    CurationService's SearchText ranks them by the text's CLIP vector (the tiny model's ranking
    means nothing; that the ranking is the text/image cosine is what is checked)."""
    from framesift.app.registry import build_adapters
    from framesift.runtime.settings import EmbedBackendKind
    from framesift.services.curate.changes import FrameChanges
    from framesift.services.curate.queries import CurationApi
    from framesift.services.embed.bootstrap import build_backend, build_vectors
    from tests.support.curation import run_pipeline, uploads

    settings = embedded_settings.model_copy(
        update={"embed_backend": EmbedBackendKind.LOCAL, "model_repository": exported}
    )
    await run_pipeline(settings, uploads("text-cam", count=5))
    adapters = build_adapters(settings)
    vectors = build_vectors(settings, None)
    api = CurationApi(adapters.engine, vectors, settings.curate, FrameChanges(), lambda: build_backend(settings))
    try:
        found = await api.search_text("a cyclist at night", 3, "camera:text-cam")
        assert found.model == "clip"
        assert len(found.hits) == 3
        similarities = [hit.similarity for hit in found.hits]
        assert similarities == sorted(similarities, reverse=True)
        text_vector = await api.backend.embed_text("a cyclist at night")
        top = found.hits[0].record
        stored = await vectors.vectors([top.point_id])
        assert float(text_vector @ stored[top.point_id]) == pytest.approx(similarities[0], abs=1e-4)
        queried = await api.query_frames('camera:text-cam "a cyclist at night"', 10, "")
        assert {r.frame.frame_id for r in queried.frames} >= {h.record.frame.frame_id for h in found.hits}
    finally:
        await api.close()
        await vectors.close()
        adapters.close()
