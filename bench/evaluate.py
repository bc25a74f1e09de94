"""The evaluator: time and peak memory of COCO metrics against pycocotools on the same files,
the cost of slices with bootstrap intervals, and the selection experiment's table (framesift's
choice against random at the same labelling budget: `framesift evaluate selection`'s code).

Data: tests/support/coco_sets.py's ground truth (5 000 images of 1280x720, boxes of every COCO
size, 3 % crowd regions, 12 cameras) and a detector's results on it (jittered copies of the
truth, misses, wrong classes and false alarms: about 18 per image, 90 k in all). Each evaluator
runs in a fresh process on the same two files, so its peak RSS is its own; the metrics of the
two are compared as well (they must be equal).

Run: .venv/bin/python -m bench.evaluate [--images 5000] [--resamples 1000] [--selection-seeds 5]
(the selection table needs scikit-learn: [bench]; --selection-seeds 0 leaves it out)
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from tests.support import coco_sets

_EVALUATORS = {
    "framesift (faster-coco-eval)": """
import json, sys, time
from pathlib import Path
from framesift.services.evaluate import coco_input, detection_metrics
start = time.perf_counter()
truth = coco_input.ground_truth(coco_input.read_json(Path(sys.argv[1])), source="gt")
found = coco_input.predictions(coco_input.read_json(Path(sys.argv[2])), truth, source="pred")
metrics = detection_metrics.evaluate(truth, found).metrics
seconds = time.perf_counter() - start
print(json.dumps({"seconds": seconds, "map": metrics["map"], "ap50": metrics["ap50"], "peak_kib": PEAK()}))
""",
    "pycocotools (baseline)": """
import contextlib, io, json, sys, time
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval
start = time.perf_counter()
with contextlib.redirect_stdout(io.StringIO()):
    truth = COCO(sys.argv[1])
    run = COCOeval(truth, truth.loadRes(sys.argv[2]), "bbox")
    run.evaluate(); run.accumulate(); run.summarize()
seconds = time.perf_counter() - start
print(json.dumps({"seconds": seconds, "map": run.stats[0], "ap50": run.stats[1], "peak_kib": PEAK()}))
""",
}


_PEAK = "import resource\nPEAK = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"


def _evaluator(code: str, truth: Path, found: Path) -> dict:
    command = [sys.executable, "-c", _PEAK + code, str(truth), str(found)]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["peak_mib"] = result.pop("peak_kib") / 1024  # the process's own peak, imports included
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=5000)
    parser.add_argument("--resamples", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--selection-seeds", type=int, default=5)
    args = parser.parse_args()

    truth = coco_sets.ground_truth(args.images, seed=args.seed, objects_per_image=15, cameras=12)
    found = coco_sets.detections(truth, seed=args.seed + 1, skill=0.75, false_alarms=7)
    with tempfile.TemporaryDirectory() as folder:
        truth_path, found_path = Path(folder) / "gt.json", Path(folder) / "pred.json"
        truth_path.write_text(json.dumps(truth))
        found_path.write_text(json.dumps(found))
        print(f"{args.images} images, {len(truth['annotations'])} boxes, {len(found)} detections")
        results = {name: _evaluator(code, truth_path, found_path) for name, code in _EVALUATORS.items()}
        _evaluator_table(results)
        _bootstrap_table(truth_path, found_path, args.resamples)
    if args.selection_seeds:
        _selection_table(args.selection_seeds)


def _evaluator_table(results: dict[str, dict]) -> None:
    baseline = results["pycocotools (baseline)"]
    grid = Table(title="COCO bbox evaluation, each in a fresh process (load + evaluate + accumulate)")
    for column in ("evaluator", "seconds", "vs baseline", "peak RSS MiB", "mAP", "AP50"):
        grid.add_column(column, justify="right" if column != "evaluator" else "left")
    for name, result in results.items():
        peak = f"{result['peak_mib']:.0f}"
        grid.add_row(
            name, f"{result['seconds']:.2f}", f"{baseline['seconds'] / result['seconds']:.1f}x", peak,
            f"{result['map']:.6f}", f"{result['ap50']:.6f}",
        )  # fmt: skip
    Console(width=120).print(grid)


def _bootstrap_table(truth_path: Path, found_path: Path, resamples: int) -> None:
    from framesift.services.evaluate import coco_input, detection_metrics, slices
    from framesift.services.evaluate.resampling import MatchTable

    truth = coco_input.ground_truth(coco_input.read_json(truth_path), source="gt")
    found = coco_input.predictions(coco_input.read_json(found_path), truth, source="pred")
    grid = Table(title=f"slices with bootstrap 95 % intervals ({resamples} resamples of images)")
    for column in ("step", "seconds", "slices"):
        grid.add_column(column, justify="right" if column != "step" else "left")
    start = time.perf_counter()
    evaluation = detection_metrics.evaluate(truth, found, with_matches=True)
    matched = time.perf_counter()
    table = MatchTable.from_evaluation(evaluation)
    tabled = time.perf_counter()
    names = {item.category_id: item.name for item in evaluation.classes}
    # 12 cameras + 4 parts of the day + 4 classes: 20 slices.
    results = slices.by_slice(truth, table, ["camera", "time", "class"], resamples=resamples, seed=0, class_names=names)
    sliced = time.perf_counter()
    grid.add_row("COCO + one matching per IoU threshold (10 runs)", f"{matched - start:.2f}", "")
    grid.add_row("match table", f"{tabled - matched:.2f}", "")
    grid.add_row("slices + intervals", f"{sliced - tabled:.2f}", str(len(results)))
    grid.add_row("per slice", f"{(sliced - tabled) / len(results):.3f}", "")
    Console(width=120).print(grid)


def _selection_table(seeds: int) -> None:
    from framesift.app import selection_experiment as experiment

    start = time.perf_counter()
    results = [experiment.run_seed(seed) for seed in range(seeds)]
    summary = experiment.summarise(results)
    print(f"\nselection experiment, {seeds} seeds ({time.perf_counter() - start:.0f} s):")
    for line in experiment.lines(summary, results, experiment.labels_needed(summary)):
        print(line)


if __name__ == "__main__":
    main()
