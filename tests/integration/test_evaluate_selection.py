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
    from sklearn.datasets import load_digits

    digits = load_digits().images[:200]
    pool = experiment.make_pool(digits, tmp_path, np.random.default_rng(1))
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
    assert np.abs(restored.reshape(8, 8) - digit).max() < 1.5  # the 8x8 the model sees is the digit


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
