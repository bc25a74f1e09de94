"""Near-duplicate precision against a growing history: distinct pictures called copies.

bench.quality measures near-duplicate precision on edits of 29 real pictures: a handful of
distinct pairs. A camera's history holds thousands of frames, and a false match is a frame lost,
so what counts there is the chance that a new distinct frame lands within the radius of *any*
kept one: about 1 - (1 - p)^n for a per-pair false-match rate p and n kept frames.

The pictures: scikit-learn's 1 797 real handwritten digits, every one a distinct source, drawn as
a 256 px frame (as `framesift evaluate selection` draws them: sharp upscale, sensor noise, JPEG
q90). Low-detail frames (a dark scene with a few lights, an empty road) are the hard case for a
64-bit pHash, and digits are that case with exact ground truth: no two files are copies.

  per pair    the share of distinct pairs within each radius, whole-frame pHash alone and
              framesift's seven windows compared all against all (49 pairs)
  history     the share of the first n files that `framesift scan` (quality's own code) calls a
              near duplicate (every one is wrong), against imagededup PHash at its default
              threshold 10 on the same files in the same order

Run: .venv/bin/python -m bench.dedup_history [--files 1797] [--seed 0]
Needs: pip install -e '.[bench]' && pip install --no-deps imagededup==0.3.3.post2
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np

from bench.quality import imagededup_duplicates
from framesift.app.selection_experiment import jpeg, render
from framesift.services.quality.assess import assess
from framesift.services.quality.hamming import popcount64
from framesift.services.quality.scan import scan
from framesift.services.quality.settings import QualityThresholds

RADII = (6, 8, 10, 12)


def digit_files(folder: Path, count: int, seed: int) -> list[Path]:
    from sklearn.datasets import load_digits

    images = load_digits().images
    rng = np.random.default_rng(seed)
    paths = []
    for at, index in enumerate(rng.permutation(len(images))[:count]):
        path = folder / f"{at:05d}.jpg"
        path.write_bytes(jpeg(render(images[index], rng)))
        paths.append(path)
    return paths


def pair_rates(paths: list[Path], sample: int = 600) -> list[tuple[int, float, float]]:
    """Per radius: the share of distinct pairs within it, whole frame vs all window pairs."""
    limits = QualityThresholds()
    hashes = np.array([assess(p.read_bytes(), limits).phashes for p in paths[:sample]], dtype=np.uint64)
    upper = np.triu_indices(len(hashes), 1)
    whole = popcount64(hashes[:, 0][:, None] ^ hashes[:, 0][None, :])[upper]
    windows = np.full(len(upper[0]), 64)
    for a in range(hashes.shape[1]):
        for b in range(hashes.shape[1]):
            windows = np.minimum(windows, popcount64(hashes[:, a][:, None] ^ hashes[:, b][None, :])[upper])
    return [(radius, float((whole <= radius).mean()), float((windows <= radius).mean())) for radius in RADII]


def history_shares(folder: Path, paths: list[Path]) -> list[tuple[int, float, float]]:
    ours = [item.duplicate_of is not None for item in scan(paths, QualityThresholds(), workers=1)]
    found = imagededup_duplicates(folder, paths)
    theirs = [found[str(p)] is not None for p in paths]
    marks = sorted({n for n in (100, 300, 1000, len(paths)) if n <= len(paths)})
    return [(n, float(np.mean(ours[:n])), float(np.mean(theirs[:n]))) for n in marks]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=1797)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        paths = digit_files(folder, args.files, args.seed)
        print(f"{len(paths)} distinct digits as 256 px JPEG frames (seed {args.seed}); no two are copies\n")
        print("| radius (bits of 64) | distinct pairs within it: whole frame | framesift's 7 windows (49 pairs) |")
        print("|---|---|---|")
        for radius, whole, windows in pair_rates(paths):
            marker = " (default)" if radius == QualityThresholds().near_duplicate_radius else ""
            print(f"| {radius}{marker} | {whole:.4%} | {windows:.4%} |")
        print("\n| first n files | framesift scan: called a near duplicate | imagededup PHash (threshold 10) |")
        print("|---|---|---|")
        for n, ours, theirs in history_shares(folder, paths):
            print(f"| {n} | {ours:.1%} | {theirs:.1%} |")


if __name__ == "__main__":
    main()
