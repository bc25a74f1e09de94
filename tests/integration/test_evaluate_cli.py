"""`framesift evaluate --gt --pred`: files in, the table or one JSON object out; bad files named."""

from __future__ import annotations

import contextlib
import io
import json

import pytest
from click.testing import CliRunner
from pycocotools.coco import COCO as ReferenceCOCO
from pycocotools.cocoeval import COCOeval as ReferenceEval

from framesift.app.cli import main
from tests.support import coco_sets


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("coco")
    truth = coco_sets.ground_truth(150, seed=21)
    (folder / "gt.json").write_text(json.dumps(truth))
    (folder / "pred.json").write_text(json.dumps(coco_sets.detections(truth, seed=22, skill=0.8)))
    (folder / "old.json").write_text(json.dumps(coco_sets.detections(truth, seed=23, skill=0.5)))
    return folder


def _run(*args: str):
    return CliRunner().invoke(main, ["evaluate", *args], catch_exceptions=False)


def test_json_metrics_are_cocos_map_ap50_and_ap75(files):
    result = _run("--gt", str(files / "gt.json"), "--pred", str(files / "pred.json"), "--json")
    assert result.exit_code == 0, result.output
    document = json.loads(result.output)
    with contextlib.redirect_stdout(io.StringIO()):
        ground = ReferenceCOCO(str(files / "gt.json"))
        run = ReferenceEval(ground, ground.loadRes(str(files / "pred.json")), "bbox")
        run.evaluate()
        run.accumulate()
        run.summarize()
    for name, expected in zip(("map", "ap50", "ap75"), run.stats[:3], strict=True):
        assert document["metrics"][name] == pytest.approx(expected, abs=1e-6)  # JSON keeps 6 decimals
    assert document["images"] == 150
    assert {item["name"] for item in document["classes"]} == {"car", "person", "bicycle", "bus"}


def test_the_table_lists_slices_and_the_comparison(files):
    result = _run(
        "--gt", str(files / "gt.json"), "--pred", str(files / "pred.json"), "--baseline", str(files / "old.json"),
        "--slice", "camera", "--slice", "class", "--resamples", "200",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    text = result.output
    assert "slices, worst first" in text
    assert "camera:cam-0" in text
    assert "class:bus" in text
    overall = next(line for line in text.splitlines() if line.startswith("all "))
    assert overall.split()[-1] == "better"  # skill 0.8 against 0.5


def test_objects_file_holds_one_outcome_per_box(files, tmp_path):
    target = tmp_path / "objects.jsonl"
    result = _run("--gt", str(files / "gt.json"), "--pred", str(files / "pred.json"), "--objects", str(target))
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in target.read_text().splitlines()]
    truth = json.loads((files / "gt.json").read_text())
    found = json.loads((files / "pred.json").read_text())
    detections = [row for row in rows if row["kind"] == "detection"]
    boxes = [row for row in rows if row["kind"] == "truth"]
    crowd_hits = len(found) - len(detections)  # a detection on a crowd region is neither tp nor fp
    assert 0 <= crowd_hits < len(found) * 0.05
    assert len(boxes) == sum(1 for a in truth["annotations"] if not a["iscrowd"])
    assert sum(r["outcome"] == "tp" for r in detections) == sum(r["outcome"] == "tp" for r in boxes)
    assert {r["outcome"] for r in detections} == {"tp", "fp"}
    assert not list(tmp_path.glob("*.partial"))


def _broken(files, tmp_path, change_truth=None, change_found=None):
    truth = json.loads((files / "gt.json").read_text())
    found = json.loads((files / "pred.json").read_text())
    if change_truth:
        change_truth(truth)
    if change_found:
        change_found(found)
    (tmp_path / "gt.json").write_text(json.dumps(truth))
    (tmp_path / "pred.json").write_text(json.dumps(found))
    target = tmp_path / "objects.jsonl"
    result = _run("--gt", str(tmp_path / "gt.json"), "--pred", str(tmp_path / "pred.json"), "--objects", str(target))
    assert result.exit_code == 1
    assert not target.exists()  # nothing half-written
    assert "Traceback" not in result.output
    return result.output


def _set(item: dict, key: str, value):
    item[key] = value


@pytest.mark.parametrize(
    ("change_truth", "change_found", "message"),
    [
        (None, lambda f: _set(f[3], "image_id", 99_999), "[3]: image_id 99999 is not an image of the ground truth"),
        (None, lambda f: _set(f[0], "category_id", 4), "[0]: category_id 4 is not a category of the ground"),
        (None, lambda f: _set(f[1], "bbox", [10, 10, -5, 20]), "pred.json: [1]: bbox [10, 10, -5, 20] has no area"),
        (None, lambda f: _set(f[2], "score", 1.5), "pred.json: [2]: score 1.5 is outside [0, 1]"),
        (None, lambda f: _set(f[2], "bbox", [1, 2, 3]), "pred.json: [2]: bbox must be [x, y, width, height]"),
        (lambda t: _set(t["annotations"][5], "bbox", [0, 0, 0, 9]), None, "bbox [0, 0, 0, 9] has no area"),
        (lambda t: _set(t["annotations"][2], "image_id", 4242), None, "annotations[2]: image_id 4242 is not an"),
        (lambda t: _set(t["annotations"][1], "id", 1), None, "gt.json: annotations[1]: annotation id 1 appears twice"),
        (lambda t: t["images"].append(dict(t["images"][0])), None, "gt.json: images[150]: image id 1 appears twice"),
        (lambda t: _set(t, "images", []), None, "gt.json: no images, nothing to evaluate"),
    ],
)  # fmt: skip
def test_a_bad_item_is_named_and_nothing_is_written(files, tmp_path, change_truth, change_found, message):
    output = _broken(files, tmp_path, change_truth, change_found)
    assert message in output


def test_not_json_and_unknown_slice_field_are_clear(files, tmp_path):
    (tmp_path / "gt.json").write_text("{not json")
    result = _run("--gt", str(tmp_path / "gt.json"), "--pred", str(files / "pred.json"))
    assert result.exit_code == 1
    assert "gt.json: not JSON" in result.output
    result = _run("--gt", str(files / "gt.json"), "--pred", str(files / "pred.json"), "--slice", "weather")
    assert result.exit_code == 1
    assert "slice 'weather': no image of the ground truth has the field 'weather'" in result.output
    result = _run("--gt", str(files / "gt.json"))
    assert result.exit_code == 2
    assert "give --gt and --pred" in result.output


async def test_model_reports_and_compare_on_the_local_database(tmp_path, monkeypatch):
    import sqlalchemy as sa

    from framesift.app.registry import create_schema
    from framesift.services.evaluate.handlers import EvaluateDeps, record_detections, record_labels
    from tests.support.coco_sets import STRONG, WEAK, frame_events

    # The CLI reads its settings from the environment, as a person's shell gives them.
    monkeypatch.setenv("FRAMESIFT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("FRAMESIFT_EVALUATE__RESAMPLES", "100")
    (tmp_path / "data").mkdir()
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'data' / 'framesift.db'}")
    create_schema(engine, ["evaluate"])
    _, _, labels, embedded = frame_events(images=30)
    for event in labels:
        await record_labels(event, EvaluateDeps(engine))
    for event in embedded:
        await record_detections(event, EvaluateDeps(engine))
    engine.dispose()

    assert "no evaluation runs yet" in _run("reports").output
    made = _run("model", STRONG, "--slice", "camera", "--json")
    assert made.exit_code == 0, made.output
    document = json.loads(made.output)
    assert document["images"] == 30
    assert {s["slice"] for s in document["slices"]} == {f"camera:cam-{k}" for k in range(4)}
    listed = _run("reports").output
    assert document["run_id"] in listed
    assert STRONG in listed
    unknown = _run("model", "nope/1")
    assert (unknown.exit_code, "model version 'nope/1' has no detections here" in unknown.output) == (1, True)
    compared = _run("compare", STRONG, WEAK)
    assert compared.exit_code == 0, compared.output
    assert compared.output.splitlines()[1].split()[0] == "all"
    assert compared.output.splitlines()[1].split()[-1] == "better"


def test_label_errors_file_lists_candidates_most_severe_first(files, tmp_path):
    target = tmp_path / "errors.jsonl"
    result = _run("--gt", str(files / "gt.json"), "--pred", str(files / "pred.json"), "--label-errors", str(target))
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in target.read_text().splitlines()]
    assert rows, "a model of skill 0.8 disagrees with some labels"
    assert {row["issue"] for row in rows} <= {"overlooked", "badly_located", "swapped"}
    assert [row["score"] for row in rows] == sorted(row["score"] for row in rows)
    assert all((row["annotation_id"] is None) == (row["issue"] == "overlooked") for row in rows)
    assert "label-error candidates:" in result.output


def test_plots_and_the_pr_curves_as_data(files, tmp_path):
    from xml.etree import ElementTree

    from PIL import Image

    args = ["--gt", str(files / "gt.json"), "--pred", str(files / "pred.json"), "--slice", "camera"]
    result = _run(*args, "--resamples", "50", "--plots", str(tmp_path / "svg"), "--svg", "--json")
    assert result.exit_code == 0, result.output
    for name in ("precision-recall.svg", "slices.svg"):
        assert ElementTree.parse(tmp_path / "svg" / name).getroot().tag.endswith("svg")
    document = json.loads(result.output.splitlines()[-1])
    curves = {item["name"]: item["pr50"] for item in document["classes"]}
    assert all(len(curve) == 101 for curve in curves.values())
    assert all(curve == sorted(curve, reverse=True) for curve in curves.values())  # an envelope never rises
    assert _run(*args, "--resamples", "50", "--plots", str(tmp_path / "png")).exit_code == 0
    with Image.open(tmp_path / "png" / "slices.png") as image:
        assert image.format == "PNG"
