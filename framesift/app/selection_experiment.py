"""Does framesift's selection beat random selection at the same labelling budget?

The data are real labelled images that ship inside an installed wheel: scikit-learn's 1 797
handwritten digits (10 classes), or a user's images (one folder per class, or a COCO file). Each
seed splits them into a test set (never in the pool) and a pool source, and makes the pool a fleet
would send: every source once as a frame of at least 256 px (sensor noise, JPEG), plus what
cameras add, drawn per source: byte-identical copies (a parked
car), near copies (the same scene, new noise and a little light), a blurred copy, a dark copy, a
truncated (corrupt) file; the frames arrive shuffled.

Arms, each given the same budget of labels:
  random            frames drawn uniformly from the whole pool (labelling without framesift)
  random + gates    drawn uniformly from what framesift's quality gates and dedup keep
  framesift         the gates and dedup, then curate's selection (priority-weighted facility
                    location on the embed service's descriptor vectors, curate's min_distance)
Gates and dedup are `framesift scan`'s own code (quality's assess and judge); the vectors are
embed's weights-free descriptor backend; the choice is curate's `select`. Every picked frame
costs one label: a corrupt file costs the labeller's time and teaches nothing. The model is a
logistic regression on each labelled frame's 8x8 thumbnail, scored on the clean test set.

Without a detector curate's priority has no uncertainty or rarity part, so every frame gets the
same priority and the choice is pure coverage of the kept frames (greedy k-median with equal weights).
"""

from __future__ import annotations

import io
import itertools
import json
import math
import tempfile
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageFilter

from framesift.inference.backends.descriptor import describe
from framesift.inference.preprocess import prepare
from framesift.services.curate.selection import Budget, Candidate, select
from framesift.services.curate.settings import CurateSettings
from framesift.services.quality.scan import scan
from framesift.services.quality.settings import QualityThresholds

SIDE = 256  # px: above quality's 128 px minimum, like a small camera frame
BUDGETS = (30, 60, 120, 240)
ARMS = ("random", "random + gates", "framesift")
# Per source, how often a fleet adds each kind of junk (a parked scene repeats the most).
JUNK = {"exact copy": 0.15, "near copy": 0.25, "blurred": 0.08, "dark": 0.08, "corrupt": 0.04}
RANDOM_DRAWS = 10  # random arms: draws per seed, so their own spread is measured, not guessed


@dataclass(frozen=True)
class PoolFrame:
    name: str
    source: int  # the source it shows (its place among the pool's sources)
    kind: str  # "original" or one of JUNK


@dataclass
class SeedResult:
    seed: int
    pool: Counter[str]
    kept: int
    dataset: str
    originals_kept: int  # distinct sources the gates let through (dedup may merge two alike ones)
    accuracy: dict[str, dict[int, list[float]]] = field(default_factory=dict)  # arm -> budget -> per draw


def render(digit: np.ndarray, rng: np.random.Generator, *, light: float = 0.0) -> Image.Image:
    """An 8x8 digit (0..16) as a SIDE x SIDE frame: sharp upscale, sensor noise, grey on dark."""
    frame = np.kron(digit / 16.0 * 220.0 + 20.0 + light, np.ones((SIDE // 8, SIDE // 8)))
    frame = np.clip(frame + rng.normal(0.0, 4.0, frame.shape), 0, 255).astype(np.uint8)
    return Image.fromarray(frame).convert("RGB")


def jpeg(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def thumbnail(data: bytes) -> np.ndarray | None:
    """The model's input: the frame's 8x8 grey thumbnail, in the digits' own scale divided by 16."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            grey = image.convert("L").resize((8, 8), Image.Resampling.BOX)
    except OSError:
        return None  # corrupt: nothing to label
    return ((np.asarray(grey, dtype=np.float64) - 20.0) / 220.0).ravel()  # 0..1, as the digits' 0..16


@dataclass(frozen=True)
class Dataset:
    """Labelled images to build pools from: how a source becomes a frame (with sensor noise and
    a shift of light), and what the model sees of a frame's bytes (None: nothing, it is corrupt)."""

    name: str
    sources: list[Any]
    labels: np.ndarray
    frame: Callable[[Any, np.random.Generator, float], Image.Image]
    features: Callable[[bytes], np.ndarray | None]

    @property
    def classes(self) -> int:
        return len(set(self.labels.tolist()))


def digits() -> Dataset:
    """scikit-learn's 1 797 handwritten digits (8x8, 10 classes): real labels inside its wheel."""
    from sklearn.datasets import load_digits

    found = load_digits()
    return Dataset(
        "scikit-learn digits", list(found.images), np.asarray(found.target),
        lambda digit, rng, light: render(digit, rng, light=light), thumbnail,
    )  # fmt: skip


def image_folder(root: Path) -> Dataset:
    """A user's images, one folder per class (root/<class>/<image>): the model sees embed's
    descriptor vector of each frame."""
    from framesift.services.quality.scan import image_files

    classes = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    sources, labels = [], []
    for index, folder in enumerate(classes):
        for path in image_files(folder):
            sources.append(path)
            labels.append(index)
    return _files_dataset(f"{root} ({len(classes)} classes)", sources, labels)


def coco_images(annotations: Path, images: Path) -> Dataset:
    """A COCO file's images, each labelled with its most frequent category (a classification
    stand-in for a detection set), read from `images`/file_name."""
    document = json.loads(annotations.read_text())
    counts: dict[int, Counter[int]] = {}
    for annotation in document.get("annotations", []):
        counts.setdefault(annotation["image_id"], Counter())[annotation["category_id"]] += 1
    sources, labels = [], []
    for image in document.get("images", []):
        if image["id"] in counts:
            path = (images / image["file_name"]).resolve()
            if images.resolve() not in path.parents:
                raise ValueError(f"{annotations}: file_name {image['file_name']!r} leaves {images}")
            sources.append(path)
            labels.append(counts[image["id"]].most_common(1)[0][0])
    return _files_dataset(f"{annotations.name} ({len(set(labels))} classes)", sources, labels)


def _files_dataset(name: str, sources: list[Path], labels: list[int]) -> Dataset:
    if len(sources) < 20 or len(set(labels)) < 2:
        raise ValueError(f"{name}: needs at least 20 images of at least 2 classes, found {len(sources)}")
    return Dataset(name, sources, np.asarray(labels), _photo_frame, _descriptor_features)


def _photo_frame(path: Path, rng: np.random.Generator, light: float) -> Image.Image:
    with Image.open(path) as image:
        image = image.convert("RGB")
        scale = SIDE / min(image.size)
        frame = image.resize((max(SIDE, round(image.width * scale)), max(SIDE, round(image.height * scale))))
    pixels = np.asarray(frame, dtype=np.float64) + light + rng.normal(0.0, 3.0, (frame.height, frame.width, 1))
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))


def _descriptor_features(data: bytes) -> np.ndarray | None:
    from framesift.inference.preprocess import UndecodableFrameError

    try:
        return describe(prepare(data).pixels).astype(np.float64) * 4.0  # a scale logistic regression likes
    except UndecodableFrameError:
        return None


def make_pool(dataset: Dataset, indices: Sequence[int], folder: Path, rng: np.random.Generator) -> list[PoolFrame]:
    """The pool a fleet would send of these sources: `PoolFrame.source` is the position in `indices`."""
    frames: list[tuple[PoolFrame, bytes]] = []
    for source, index in enumerate(indices):
        item = dataset.sources[index]

        def frame(light: float = 0.0, item=item) -> Image.Image:
            return dataset.frame(item, rng, light)

        original = jpeg(frame())
        frames.append((PoolFrame("", source, "original"), original))
        if rng.random() < JUNK["exact copy"]:
            frames += [(PoolFrame("", source, "exact copy"), original)] * int(rng.integers(1, 4))
        if rng.random() < JUNK["near copy"]:
            for _ in range(int(rng.integers(1, 3))):
                frames.append((PoolFrame("", source, "near copy"), jpeg(frame(rng.uniform(-8, 8)))))
        if rng.random() < JUNK["blurred"]:
            frames.append((PoolFrame("", source, "blurred"), jpeg(frame().filter(ImageFilter.GaussianBlur(6)))))
        if rng.random() < JUNK["dark"]:
            frames.append((PoolFrame("", source, "dark"), jpeg(Image.eval(frame(), lambda v: v // 10))))
        if rng.random() < JUNK["corrupt"]:
            frames.append((PoolFrame("", source, "corrupt"), original[: len(original) * 2 // 5]))
    order = rng.permutation(len(frames))  # a fleet's arrival order
    pool = []
    for at, index in enumerate(order):
        frame, data = frames[index]
        named = PoolFrame(f"{at:06d}.jpg", frame.source, frame.kind)
        (folder / named.name).write_bytes(data)
        pool.append(named)
    return pool


def framesift_order(folder: Path, pool: list[PoolFrame], budget: int) -> tuple[list[int], list[int]]:
    """(kept, chosen): pool positions the gates and dedup keep, then curate's choice among them
    in the order it chose (its first n are its choice for a budget of n)."""
    position = {frame.name: at for at, frame in enumerate(pool)}
    kept = [
        position[Path(item.path).name]
        for item in scan([folder / frame.name for frame in pool], QualityThresholds())
        if item.status == "ok"
    ]
    curate = CurateSettings()
    candidates = [
        Candidate(
            frame_id=pool[at].name,
            camera_id="cam-0",
            priority=1.0,
            vector=describe(prepare((folder / pool[at].name).read_bytes()).pixels),
            prior_distance=2.0,
        )
        for at in kept
    ]
    decisions = select(
        candidates,
        Budget(frames=budget, per_camera=budget),
        min_distance=curate.min_distance,
    )
    chosen = sorted((d for d in decisions if d.selected), key=lambda d: d.rank or 0)
    return kept, [position[d.frame_id] for d in chosen]


def accuracy(picked: list[int], features: list[np.ndarray | None], labels: np.ndarray, test) -> float:
    from sklearn.linear_model import LogisticRegression

    test_x, test_y = test
    rows = [at for at in picked if features[at] is not None]
    if not rows:
        return float(np.max(np.bincount(test_y)) / len(test_y))  # nothing learnt: the majority guess
    train_x = np.stack([features[at] for at in rows])
    train_y = labels[rows]
    if len(set(train_y.tolist())) < 2:
        return float(np.mean(test_y == train_y[0]))
    model = LogisticRegression(max_iter=2000)
    model.fit(train_x, train_y)
    return float(model.score(test_x, test_y))


def run_seed(
    seed: int,
    budgets: tuple[int, ...] = BUDGETS,
    *,
    source_limit: int | None = None,
    dataset: Dataset | None = None,
) -> SeedResult:
    from sklearn.model_selection import train_test_split

    dataset = dataset if dataset is not None else digits()
    every = np.arange(len(dataset.sources))
    source_at, test_at = train_test_split(every, test_size=0.3, stratify=dataset.labels, random_state=seed)
    if source_limit is not None:
        source_at = source_at[:source_limit]
    rng = np.random.default_rng(seed)
    # The test frames are clean frames of held-out sources: never in the pool.
    test_features = np.stack([dataset.features(jpeg(dataset.frame(dataset.sources[i], rng, 0.0))) for i in test_at])
    test_y = dataset.labels[test_at]
    with tempfile.TemporaryDirectory() as folder:
        pool = make_pool(dataset, source_at, Path(folder), rng)
        features = [dataset.features((Path(folder) / frame.name).read_bytes()) for frame in pool]
        kept, chosen = framesift_order(Path(folder), pool, max(budgets))
    source_y = dataset.labels[source_at]
    labels = np.array([source_y[frame.source] for frame in pool])
    result = SeedResult(
        seed=seed,
        dataset=dataset.name,
        pool=Counter(frame.kind for frame in pool),
        kept=len(kept),
        originals_kept=len({pool[at].source for at in kept}),
    )
    test = (test_features, test_y)
    draws = np.random.default_rng(seed + 10_000)
    for arm in ARMS:
        result.accuracy[arm] = {}
        for budget in budgets:
            if arm == "framesift":
                result.accuracy[arm][budget] = [accuracy(chosen[:budget], features, labels, test)]
                continue
            population = np.arange(len(pool)) if arm == "random" else np.array(kept)
            result.accuracy[arm][budget] = [
                accuracy(draws.choice(population, size=min(budget, len(population)), replace=False).tolist(),
                         features, labels, test)
                for _ in range(RANDOM_DRAWS)
            ]  # fmt: skip
    return result


@dataclass(frozen=True)
class Summary:
    budget: int
    mean: dict[str, float]
    spread: dict[str, float]  # standard deviation over seeds and draws
    difference: float  # framesift - random, mean over seeds (random: mean of its draws)
    interval: tuple[float, float]  # 95 % t interval of that difference over seeds


def summarise(results: list[SeedResult], budgets: tuple[int, ...] = BUDGETS) -> list[Summary]:
    from scipy import stats

    rows = []
    for budget in budgets:
        mean = {arm: float(np.mean([a for r in results for a in r.accuracy[arm][budget]])) for arm in ARMS}
        spread = {arm: float(np.std([a for r in results for a in r.accuracy[arm][budget]])) for arm in ARMS}
        paired = np.array(
            [np.mean(r.accuracy["framesift"][budget]) - np.mean(r.accuracy["random"][budget]) for r in results]
        )
        if len(paired) > 1 and paired.std(ddof=1) > 0:
            half = stats.t.ppf(0.975, len(paired) - 1) * paired.std(ddof=1) / math.sqrt(len(paired))
            interval = (float(paired.mean() - half), float(paired.mean() + half))
        else:
            interval = (float("nan"), float("nan"))
        rows.append(Summary(budget, mean, spread, float(paired.mean()), interval))
    return rows


def labels_needed(summary: list[Summary], arm: str = "framesift", target_arm: str = "random") -> float | None:
    """Labels `arm` needs to reach `target_arm`'s accuracy at the largest budget, read off its
    learning curve (linear in log budget between measured points); None if it never does."""
    target = summary[-1].mean[target_arm]
    points = [(row.budget, row.mean[arm]) for row in summary]
    if points[0][1] >= target:
        return float(points[0][0])
    for (b0, a0), (b1, a1) in itertools.pairwise(points):
        if a0 < target <= a1:
            share = (target - a0) / (a1 - a0)
            return float(math.exp(math.log(b0) + share * (math.log(b1) - math.log(b0))))
    return None


def plot(summary: list[Summary], results: list[SeedResult], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")  # files only, no screen
    from matplotlib import pyplot

    figure, axes = pyplot.subplots(figsize=(6.4, 4.2), dpi=120)
    budgets = [row.budget for row in summary]
    for arm, colour in zip(ARMS, ("#888888", "#4c72b0", "#dd8452"), strict=True):
        means = np.array([row.mean[arm] for row in summary])
        spreads = np.array([row.spread[arm] for row in summary])
        axes.plot(budgets, means, marker="o", color=colour, label=arm)
        axes.fill_between(budgets, means - spreads, means + spreads, color=colour, alpha=0.15)
    axes.set_xscale("log")
    axes.minorticks_off()
    axes.set_xticks(budgets, [str(b) for b in budgets])
    axes.set_xlabel("labels spent")
    axes.set_ylabel("test accuracy")
    axes.set_title(f"{results[0].dataset}, a pool with fleet junk, {len(results)} seeds (band: ±1 sd)", fontsize=9)
    axes.grid(alpha=0.3)
    axes.legend()
    figure.tight_layout()
    figure.savefig(path)
    pyplot.close(figure)


def verdict(row: Summary) -> str:
    low, high = row.interval
    if math.isnan(low):
        return "one seed: no interval"
    return "better" if low > 0 else "worse" if high < 0 else "within the noise"


def as_json(summary: list[Summary], results: list[SeedResult], needed: float | None) -> dict:
    largest = summary[-1].budget
    return {
        "seeds": [r.seed for r in results],
        "pool": {kind: int(np.mean([r.pool[kind] for r in results])) for kind in ("original", *JUNK)},
        "kept_by_gates": int(np.mean([r.kept for r in results])),
        "dataset": results[0].dataset,
        "distinct_sources_kept": int(np.mean([r.originals_kept for r in results])),
        "budgets": [
            {
                "labels": row.budget,
                "accuracy": {arm: round(row.mean[arm], 4) for arm in ARMS},
                "sd": {arm: round(row.spread[arm], 4) for arm in ARMS},
                "framesift_minus_random": round(row.difference, 4),
                "ci95": [round(v, 4) if not math.isnan(v) else None for v in row.interval],
                "verdict": verdict(row),
            }
            for row in summary
        ],
        "labels_to_reach_random_at_largest_budget": None if needed is None else round(needed, 1),
        "labels_saved_pct": None if needed is None else round(100 * (1 - needed / largest), 1),
    }


def lines(summary: list[Summary], results: list[SeedResult], needed: float | None) -> list[str]:
    pool = {kind: np.mean([r.pool[kind] for r in results]) for kind in ("original", *JUNK)}
    total = sum(pool.values())
    kept = np.mean([r.kept for r in results])
    out = [
        f"pool (mean of {len(results)} seeds): {total:.0f} frames = "
        + ", ".join(f"{count:.0f} {kind}" for kind, count in pool.items()),
        f"kept by quality gates + dedup: {kept:.0f} ({100 * (1 - kept / total):.1f} % removed), showing "
        f"{np.mean([r.originals_kept for r in results]):.0f} of the {pool['original']:.0f} distinct sources",
        "",
        f"{'labels':>6}  {'random':>13}  {'random+gates':>13}  {'framesift':>13}  {'fs - random':>11}  "
        f"{'95 % CI':>16}  verdict",
    ]
    for row in summary:
        cells = [f"{row.mean[arm]:.3f} ± {row.spread[arm]:.3f}" for arm in ARMS]
        low, high = row.interval
        span = "-" if math.isnan(low) else f"[{low:+.3f}, {high:+.3f}]"
        out.append(
            f"{row.budget:>6}  {cells[0]:>13}  {cells[1]:>13}  {cells[2]:>13}  {row.difference:>+11.3f}  "
            f"{span:>16}  {verdict(row)}"
        )
    largest = summary[-1].budget
    if needed is None:
        out.append(f"framesift did not reach random's accuracy at {largest} labels within {largest} labels")
    else:
        out.append(
            f"framesift reaches random's accuracy at {largest} labels with {needed:.0f} labels "
            f"({100 * (1 - needed / largest):.0f} % fewer)"
        )
    out.append("± is the standard deviation over seeds (and random's draws); the interval is over seeds, paired")
    return out
