"""`framesift evaluate selection`: the curated-vs-random experiment runs through framesift's own
gates, dedup and selection, and what each arm pays for is what the pool holds."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from framesift.app import selection_experiment as experiment
from framesift.app.cli import main


def test_the_pool_holds_what_a_fleet_sends_and_the_gates_keep_one_sound_frame_per_digit(tmp_path):
    pool = experiment.make_pool(experiment.digits(), range(200), tmp_path, np.random.default_rng(1))
    kinds = {frame.kind for frame in pool}
    assert kinds == {"original", "exact copy", "near copy", "blurred", "dark", "corrupt"}
    assert sum(frame.kind == "original" for frame in pool) == 200
    kept, chosen = experiment.framesift_order(tmp_path, pool, budget=40)
    kept_kinds = {pool[at].kind for at in kept}
    # Whichever copy of a scene arrives first is the one kept; never a broken one.
    assert not kept_kinds & {"blurred", "dark", "corrupt"}
    assert len({pool[at].source for at in kept}) == len(kept)  # at most one frame per digit
    assert len(chosen) == 40
    assert set(chosen) <= set(kept)
    assert len({(tmp_path / pool[at].name).read_bytes() for at in kept}) == len(kept)  # no byte-identical pair


def test_a_corrupt_frame_costs_a_label_and_teaches_nothing():
    assert experiment.thumbnail(b"\xff\xd8\xff\xe0 not a whole jpeg") is None
    rng = np.random.default_rng(0)
    digit = np.zeros((8, 8))
    digit[2:6, 3:5] = 16
    restored = experiment.thumbnail(experiment.jpeg(experiment.render(digit, rng)))
    assert np.abs(16 * restored.reshape(8, 8) - digit).max() < 1.5  # the 8x8 the model sees is the digit


def test_labels_needed_reads_the_curve():
    rows = [
        experiment.Summary(b, {"random": r, "framesift": f}, {}, f - r, (0.0, 0.0))
        for b, r, f in ((30, 0.60, 0.70), (60, 0.75, 0.85), (120, 0.85, 0.95), (240, 0.90, 0.97))
    ]
    # random's 0.90 at 240 lies halfway from framesift's 0.85 at 60 to its 0.95 at 120: in log
    # budget, halfway is sqrt(60 x 120).
    assert experiment.labels_needed(rows) == pytest.approx((60 * 120) ** 0.5)
    never = [experiment.Summary(b, {"random": 0.9, "framesift": 0.5}, {}, -0.4, (0.0, 0.0)) for b in (30, 60)]
    assert experiment.labels_needed(never) is None


def test_the_command_writes_curves_and_results(tmp_path):
    # A smaller pool than the default run (200 source digits, two budgets), the same code path.
    command = ["evaluate", "selection", "--seeds", "2", "--digits", "200", "--budgets", "30,60"]
    result = CliRunner().invoke(main, [*command, "--out", str(tmp_path / "report")], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "framesift" in result.output
    assert "kept by quality gates + dedup" in result.output
    document = json.loads((tmp_path / "report" / "results.json").read_text())
    assert [row["labels"] for row in document["budgets"]] == [30, 60]
    assert set(document["budgets"][0]["accuracy"]) == set(experiment.ARMS)
    assert all(0 <= v <= 1 for row in document["budgets"] for v in row["accuracy"].values())
    assert document["pool"]["original"] == 200
    with Image.open(Path(tmp_path / "report" / "learning-curves.png")) as image:
        assert image.format == "PNG"


def _shapes(folder: Path, count: int = 60) -> dict[str, list[Path]]:
    """Photos of two kinds of thing (discs and bars, in many places, sizes and colours): a user's
    own labelled image folder, one folder per class."""
    from PIL import ImageDraw

    rng = np.random.default_rng(4)
    made: dict[str, list[Path]] = {"disc": [], "bar": []}
    for kind in made:
        (folder / kind).mkdir(parents=True)
        for at in range(count // 2):
            image = Image.new("RGB", (320, 240), tuple(int(v) for v in rng.integers(0, 90, 3)))
            draw = ImageDraw.Draw(image)
            x, y, size = int(rng.integers(20, 220)), int(rng.integers(20, 140)), int(rng.integers(30, 80))
            colour = tuple(int(v) for v in rng.integers(120, 256, 3))
            if kind == "disc":
                draw.ellipse([x, y, x + size, y + size], fill=colour)
            else:
                draw.rectangle([x, y, x + size * 2, y + size // 4], fill=colour)
            path = folder / kind / f"{at:03d}.png"
            image.save(path)
            made[kind].append(path)
    return made


def test_a_users_image_folder_or_coco_file_is_the_pool_instead(tmp_path):
    made = _shapes(tmp_path / "mine")
    command = ["evaluate", "selection", "--seeds", "1", "--budgets", "6,12", "--images", str(tmp_path / "mine")]
    result = CliRunner().invoke(main, [*command, "--out", str(tmp_path / "report"), "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    document = json.loads(result.output.splitlines()[-1])
    assert document["dataset"].endswith("(2 classes)")
    assert document["pool"]["original"] == 42  # 70 % of the 60 images; the rest are the test set
    assert all(0 <= v <= 1 for row in document["budgets"] for v in row["accuracy"].values())

    coco = {
        "images": [{"id": i, "file_name": f"{kind}/{p.name}", "width": 320, "height": 240}
                   for i, (kind, p) in enumerate(((k, p) for k, ps in made.items() for p in ps), start=1)],
        "categories": [{"id": 1, "name": "disc"}, {"id": 2, "name": "bar"}],
    }  # fmt: skip
    coco["annotations"] = [
        {"id": i, "image_id": i, "category_id": 1 if image["file_name"].startswith("disc") else 2, "bbox": [0, 0, 9, 9]}
        for i, image in enumerate(coco["images"], start=1)
    ]
    (tmp_path / "mine.json").write_text(json.dumps(coco))
    command = ["evaluate", "selection", "--seeds", "1", "--budgets", "6", "--images", str(tmp_path / "mine")]
    from_coco = CliRunner().invoke(
        main, [*command, "--coco", str(tmp_path / "mine.json"), "--out", str(tmp_path / "r2")]
    )
    assert from_coco.exit_code == 0, from_coco.output
    escape = dict(coco, images=[dict(coco["images"][0], file_name="../../etc/passwd"), *coco["images"][1:]])
    (tmp_path / "escape.json").write_text(json.dumps(escape))
    refused = CliRunner().invoke(
        main, [*command, "--coco", str(tmp_path / "escape.json"), "--out", str(tmp_path / "r3")]
    )
    assert refused.exit_code == 1
    assert "leaves" in refused.output
