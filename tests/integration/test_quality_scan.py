"""`framesift scan` over a real folder: input order, every reason, duplicates named, nothing crashes."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from framesift.app.cli import main
from tests.support.scenes import blurred, encode, scaled_luma, scene, uniform


@pytest.fixture
def dataset(tmp_path):
    """A folder with one file per outcome, in sub-folders, with what each should get."""
    root = tmp_path / "frames"
    (root / "day" / "cam-1").mkdir(parents=True)
    (root / "night").mkdir()
    original = scene(seed=1)
    files = {
        "day/cam-1/0001.jpg": (encode(original), []),
        "day/cam-1/0002.jpg": (encode(original), ["exact_duplicate"]),
        "day/cam-1/0003.jpg": (encode(original, quality=40), ["near_duplicate"]),
        "day/cam-1/0004.jpg": (encode(blurred(scene(seed=2), 6)), ["blurry"]),
        "day/cam-1/0005.jpg": (encode(scene(seed=3), "PNG"), []),  # a PNG named .jpg is fine
        "day/cam-1/0006.jpg": (encode(scene(seed=4))[:9000], ["corrupt"]),
        "day/cam-1/0007.jpg": (b"", ["corrupt"]),
        "night/0001.jpg": (encode(scaled_luma(scene(seed=5), 0.12)), ["dark"]),
        "night/0002.jpg": (encode(scaled_luma(scene(seed=6), 1.0, 200)), ["overexposed"]),
        "night/0003.png": (encode(uniform(level=120), "PNG"), ["low_information"]),
        "night/0004.jpg": (encode(scene(100, 60, seed=7)), ["odd_size"]),
    }
    for name, (data, _) in files.items():
        (root / name).write_bytes(data)
    (root / "labels.csv").write_text("not an image\n")  # skipped: no image suffix
    (root / ".cache").mkdir()
    (root / ".cache" / "x.jpg").write_bytes(b"hidden")  # skipped: hidden
    (root / "night" / "broken-link.jpg").symlink_to(root / "missing.jpg")  # unreadable
    expected = {str(root / name): reasons for name, (_, reasons) in files.items()}
    expected[str(root / "night" / "broken-link.jpg")] = ["corrupt"]
    return root, dict(sorted(expected.items()))


def run_scan(*args: str):
    return CliRunner().invoke(main, ["scan", *args], catch_exceptions=False)


def test_json_lines_in_input_order_with_every_reason(dataset) -> None:
    root, expected = dataset
    result = run_scan(str(root), "--json")
    assert result.exit_code == 0, result.output
    items = [json.loads(line) for line in result.stdout.splitlines()]
    assert [item["path"] for item in items] == list(expected)
    for item in items:
        assert item["reasons"] == expected[item["path"]], item
        assert item["status"] == ("rejected" if item["reasons"] else "ok")
        assert set(item) >= {"path", "status", "reasons", "duplicate_of", "metrics"}
    by_path = {item["path"]: item for item in items}
    first = str(root / "day/cam-1/0001.jpg")
    assert by_path[str(root / "day/cam-1/0002.jpg")]["duplicate_of"] == first
    assert by_path[str(root / "day/cam-1/0003.jpg")]["duplicate_of"] == first
    assert by_path[first]["duplicate_of"] is None
    assert by_path[first]["metrics"]["width"] == 640
    assert "unreadable" in by_path[str(root / "night/broken-link.jpg")]["detail"]
    assert "truncated" in by_path[str(root / "day/cam-1/0006.jpg")]["detail"]


def test_summary_goes_to_stderr_with_counts_and_reduction(dataset) -> None:
    root, expected = dataset
    result = run_scan(str(root), "--json")
    summary = result.stderr
    rejected = sum(1 for reasons in expected.values() if reasons)
    assert f"scanned    {len(expected)} images" in summary
    assert f"rejected   {rejected} ({100 * rejected / len(expected):.1f} % reduction)" in summary
    assert "corrupt           3" in summary
    assert "images/s" in summary
    assert "skipped    1 files without an image suffix" in summary
    assert "scanned" not in result.stdout


def test_workers_give_the_same_answer(dataset) -> None:
    root, _ = dataset
    one = run_scan(str(root), "--json").stdout
    two = run_scan(str(root), "--json", "--workers", "2").stdout
    strip = [{k: v for k, v in json.loads(line).items() if k != "metrics"} for line in one.splitlines()]
    assert strip == [{k: v for k, v in json.loads(line).items() if k != "metrics"} for line in two.splitlines()]


def test_readable_table_without_json(dataset) -> None:
    root, _ = dataset
    result = run_scan(str(root))
    assert result.exit_code == 0
    assert "kept       2" in result.stdout
    assert "exact_duplicate   1" in result.stdout
    assert "{" not in result.stdout


def test_thresholds_follow_the_settings(dataset, monkeypatch) -> None:
    root, _ = dataset
    monkeypatch.setenv("FRAMESIFT_QUALITY__MIN_SIDE_PX", "32")
    items = [json.loads(line) for line in run_scan(str(root / "night"), "--json").stdout.splitlines()]
    assert next(item for item in items if item["path"].endswith("0004.jpg"))["reasons"] == []


def test_a_single_file_can_be_scanned(dataset) -> None:
    root, _ = dataset
    [line] = run_scan(str(root / "night" / "0001.jpg"), "--json").stdout.splitlines()
    assert json.loads(line)["reasons"] == ["dark"]


def test_without_json_each_rejected_file_is_named_and_no_progress_bar_goes_to_a_pipe(dataset, tmp_path) -> None:
    root, expected = dataset
    result = run_scan(str(root))  # click's runner is not a terminal, as a log file or a pipe is not
    lines = result.stdout.splitlines()
    rejected = {line.split(": ")[0].removeprefix("rejected   ") for line in lines if line.startswith("rejected   /")}
    assert rejected == {path for path, reasons in expected.items() if reasons}
    assert f"rejected   {root / 'day/cam-1/0002.jpg'}: exact_duplicate (duplicate of " in result.stdout
    assert "img/s" not in result.stderr  # tqdm's bar stays off without a terminal
    (tmp_path / "nothing").mkdir()
    empty = CliRunner().invoke(main, ["scan", str(tmp_path / "nothing")])
    assert empty.exit_code == 1
    assert "no images under" in empty.output


def test_sizes_are_judged_against_the_folder(tmp_path) -> None:
    """A thumbnail among a folder's 640x360 frames is odd even as its first file (every header is
    read first); a folder of 160x120 frames is not odd for being small."""
    big, small = tmp_path / "cam-big", tmp_path / "cam-small"
    big.mkdir()
    small.mkdir()
    (big / "0000.jpg").write_bytes(encode(scene(160, 90, seed=40)))
    for i in range(1, 13):
        (big / f"{i:04d}.jpg").write_bytes(encode(scene(seed=40 + i)))
        (small / f"{i:04d}.jpg").write_bytes(encode(scene(160, 120, seed=60 + i)))
    result = run_scan(str(tmp_path), "--json")
    assert result.exit_code == 0, result.output
    reasons = {item["path"]: item["reasons"] for item in map(json.loads, result.stdout.splitlines())}
    assert reasons.pop(str(big / "0000.jpg")) == ["odd_size"]
    assert all(found == [] for found in reasons.values()), reasons
