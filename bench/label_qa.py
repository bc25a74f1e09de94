"""Label QA: precision and recall of each check on errors injected into annotated frames.

The frames: scikit-learn's 1 797 real handwritten digits (10 classes) pasted onto 640x360
canvases, 1-6 per frame at 32-120 px, each box the digit's exact ink extent: real shapes with
exact boxes (no wheel here ships box-labelled street images). Consecutive frames of a "camera"
move each digit a little and keep its track id, as video does.

What surrounds the ground truth, with its noise taken from published figures rather than from
these checks' thresholds:
  pre-labels  a detector's boxes: every object found with probability 0.85, its box corners
              moved by N(0, 4 % of the box side) (mean IoU with the truth about 0.85, a typical
              mid-size detector at IoU 0.5-0.95); its score ~ Beta(8, 2) when found; plus a
              confident false positive in 3 % of frames
  labeller    a careful labeller: corners moved by N(0, 1.5 % of the side), at least 1 px (human
              box agreement is about 0.88 IoU: Papadopoulos et al., "Extreme clicking", 2017)
Errors injected (one kind per frame, a third of frames left clean), each as a labelling mistake
is: too tight (area 0.25-0.5 of the truth), too wide (2.2-4x), class changed on a confidently
pre-labelled object, a confidently pre-labelled object left out, a box drawn twice, a degenerate
box (under 2 px), a box of an object at the left edge dragged 1-12 px past it, a box under the class's 12 px minimum,
a track whose class flips on one frame (flagged on that frame when it is outvoted, at its own
submission or when later frames of the track arrive, as the service does).

What each frame's labels really have wrong is judged against the truth, whatever mistake made it
(a flipped class is also a changed class where a confident pre-label shows it; a box dragged past
the edge may also be too wide): a check's precision counts the frames it flagged with that issue
that really have it; recall, the frames that really have it that it flagged. Checks only see labels, pre-labels and the
ontology, as in the service. No threshold was tuned on this set: they are QaSettings' defaults.

Run: .venv/bin/python -m bench.label_qa [--frames 6000] [--seed 3]   (needs scikit-learn: [bench])
"""

from __future__ import annotations

import argparse
import random
from collections import Counter

import numpy as np

from framesift.services.label import qa
from framesift.services.label.ontology import next_version, parse
from framesift.services.label.settings import QaSettings

WIDTH, HEIGHT = 640, 360
CLASSES = [f"digit-{d}" for d in range(10)]
ONTOLOGY = next_version(None, parse({"classes": [{"name": name, "min_box_px": 12} for name in CLASSES]}))
KINDS = [issue.value for issue in qa.Issue]


def ink_boxes(images: np.ndarray) -> list[tuple[float, float, float, float]]:
    """Each 8x8 digit's exact ink extent, as fractions of its cell."""
    boxes = []
    for image in images:
        rows, cols = np.nonzero(image > 2)
        boxes.append((cols.min() / 8, rows.min() / 8, (cols.max() + 1) / 8, (rows.max() + 1) / 8))
    return boxes


def camera_frames(rng: random.Random, digits, count: int):
    """Frames of one camera: the same digits drifting, each with its track id."""
    _images, targets, extents = digits
    objects = []
    for _ in range(rng.randint(1, 6)):
        index = rng.randrange(len(targets))
        size = rng.uniform(32, 120)  # the truth keeps the ontology's 12 px minimum
        x, y = rng.uniform(0, WIDTH - size), rng.uniform(0, HEIGHT - size)
        objects.append({"index": index, "size": size, "x": x, "y": y, "track": f"t{rng.getrandbits(32):08x}"})
    for _ in range(count):
        truth = []
        for o in objects:
            o["x"] = min(max(o["x"] + rng.gauss(0, 3), 0), WIDTH - o["size"])
            o["y"] = min(max(o["y"] + rng.gauss(0, 3), 0), HEIGHT - o["size"])
            e = extents[o["index"]]
            box = (
                (o["x"] + e[0] * o["size"]) / WIDTH, (o["y"] + e[1] * o["size"]) / HEIGHT,
                (o["x"] + e[2] * o["size"]) / WIDTH, (o["y"] + e[3] * o["size"]) / HEIGHT,
            )  # fmt: skip
            truth.append({"class": CLASSES[targets[o["index"]]], "box": box, "track_id": o["track"]})
        yield truth


def jitter(rng: random.Random, box, share: float, floor_px: float = 0.0):
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    sx = max(share * w, floor_px / WIDTH)
    sy = max(share * h, floor_px / HEIGHT)
    out = [x0 + rng.gauss(0, sx), y0 + rng.gauss(0, sy), x1 + rng.gauss(0, sx), y1 + rng.gauss(0, sy)]
    out = [min(1.0, max(0.0, v)) for v in out]
    if out[2] - out[0] < 1 / WIDTH:
        out[2] = min(1.0, out[0] + 2 / WIDTH)
    if out[3] - out[1] < 1 / HEIGHT:
        out[3] = min(1.0, out[1] + 2 / HEIGHT)
    return tuple(out)


def detector(rng: random.Random, truth):
    found = []
    for t in truth:
        if rng.random() < 0.85:
            score = rng.betavariate(8, 2)
            found.append({"class": t["class"], "score": score, "box": jitter(rng, t["box"], 0.04)})
    if rng.random() < 0.03:
        size = rng.uniform(0.05, 0.2)
        x, y = rng.uniform(0, 1 - size), rng.uniform(0, 1 - size)
        found.append({"class": rng.choice(CLASSES), "score": rng.uniform(0.7, 0.95), "box": (x, y, x + size, y + size)})
    return found


def scaled(box, factor: float):
    """The box scaled about its centre to `factor` times its area."""
    x0, y0, x1, y1 = box
    cx, cy, s = (x0 + x1) / 2, (y0 + y1) / 2, factor**0.5
    w, h = (x1 - x0) * s / 2, (y1 - y0) * s / 2
    return (max(0.0, cx - w), max(0.0, cy - h), min(1.0, cx + w), min(1.0, cy + h))


def inject(rng: random.Random, kind: str, labels: list[dict], prelabels: list[dict]) -> bool:
    """Make one labelling mistake of `kind` in `labels`; False when this frame cannot have it."""
    confident = [i for i, label in enumerate(labels) if _confident_prelabel(label, prelabels)]
    if kind in ("box_too_tight", "box_too_wide", "class_changed", "missing_object") and not confident:
        return False
    if kind == "box_too_tight":
        i = rng.choice(confident)
        labels[i]["box"] = scaled(labels[i]["box"], rng.uniform(0.25, 0.5))
    elif kind == "box_too_wide":
        i = rng.choice(confident)
        labels[i]["box"] = scaled(labels[i]["box"], rng.uniform(2.2, 4.0))
        x0, y0, x1, y1 = labels[i]["box"]
        if (x1 - x0) * (y1 - y0) < 2.0 * _area(_truth_box(labels[i])):
            return False  # clipped at the image's edge: not wide enough to count
    elif kind == "class_changed":
        i = rng.choice(confident)
        labels[i]["class"] = rng.choice([c for c in CLASSES if c != labels[i]["class"]])
    elif kind == "missing_object":
        del labels[rng.choice(confident)]
    elif kind == "duplicate_box":
        copy = dict(rng.choice(labels))
        copy["box"] = jitter(rng, copy["box"], 0.005)
        labels.append(copy)
    elif kind == "degenerate_box":
        i = rng.randrange(len(labels))
        x0, y0, x1, y1 = labels[i]["box"]
        labels[i]["box"] = (x0, y0, x0 + rng.uniform(0.2, 1.5) / WIDTH, y1)
    elif kind == "out_of_frame":  # an object at the left edge, its box dragged past it
        near = [i for i, label in enumerate(labels) if label["box"][0] < 0.03]
        if not near:
            return False
        i = rng.choice(near)
        x0, y0, x1, y1 = labels[i]["box"]
        labels[i]["box"] = (-rng.uniform(1, 12) / WIDTH, y0, x1, y1)
    elif kind == "ontology_violation":
        i = rng.randrange(len(labels))
        x0, y0, _, _ = labels[i]["box"]
        side = rng.uniform(4, 10)
        labels.append(
            {"class": labels[i]["class"], "box": (x0, y0, x0 + side / WIDTH, y0 + side / HEIGHT), "track_id": ""}
        )
    else:
        raise ValueError(kind)
    return True


def _truth_box(label):
    return label["truth"]


def _area(box) -> float:
    return (box[2] - box[0]) * (box[3] - box[1])


def _confident_prelabel(label: dict, prelabels: list[dict], score: float = QaSettings().confident_score) -> bool:
    return any(
        p["score"] >= score and qa.iou(p["box"], label["box"]) >= 0.5 and p["class"] == label["class"]
        for p in prelabels
    )


def true_issues(labels: list[dict], truth: list[dict], prelabels: list[dict], q: QaSettings) -> set[str]:
    """What is really wrong with `labels`, judged against the truth (not by which mistake was
    injected): a flag is right when it names one of these. Each issue's scope is the check's:
    a changed class or a missing object only counts where a confident pre-label shows it."""
    found: set[str] = set()
    for a in labels:
        x0, y0, x1, y1 = a["box"]
        w, h = (x1 - x0) * WIDTH, (y1 - y0) * HEIGHT
        if w <= 0 or h <= 0 or min(w, h) < q.degenerate_px:
            found.add("degenerate_box")
        elif min(w, h) < 12:
            found.add("ontology_violation")
        if min(a["box"]) < 0 or max(a["box"]) > 1:
            found.add("out_of_frame")
    for k, t in enumerate(truth):
        mine = [a for a in labels if a.get("truth_index") == k]
        confident = any(
            p["score"] >= q.confident_score and p["class"] == t["class"] and qa.iou(p["box"], t["box"]) >= 0.5
            for p in prelabels
        )
        if confident and not mine:
            found.add("missing_object")
        if sum(a["class"] == t["class"] for a in mine) >= 2:
            found.add("duplicate_box")
        for a in mine:
            if a["class"] != t["class"]:
                found.add("track_class_flip")  # every object here has a track
                if confident:
                    found.add("class_changed")
                continue
            x0, y0, x1, y1 = a["box"]
            if min((x1 - x0) * WIDTH, (y1 - y0) * HEIGHT) < q.degenerate_px:
                continue
            ratio = _area(a["box"]) / _area(t["box"])
            if ratio < 0.5:
                found.add("box_too_tight")
            elif ratio > 2.0:
                found.add("box_too_wide")
    return found


def run(frames: int, seed: int, settings: QaSettings) -> tuple[Counter, Counter, Counter, int]:
    from sklearn.datasets import load_digits

    digits = load_digits()
    source = (digits.images, digits.target, ink_boxes(digits.images))
    rng = random.Random(seed)
    injected_kinds = [k for k in KINDS if k != "track_class_flip"]
    flagged, hits, present = Counter(), Counter(), Counter()
    made = 0
    while made < frames:
        sequence = list(camera_frames(rng, source, 5))
        flip_at = rng.randrange(len(sequence)) if rng.random() < 0.15 else None
        history: dict[str, Counter] = {}
        submitted: list[dict[str, str]] = []  # per frame so far: {track: class}, as submitted
        raised: list[set[str]] = []  # per frame: the issues flagged on it, at once or later
        really: list[set[str]] = []
        for position, truth in enumerate(sequence):
            prelabels = detector(rng, truth)
            labels = [{"class": t["class"], "box": jitter(rng, t["box"], 0.015, 1.0), "track_id": t["track_id"],
                       "truth": t["box"], "truth_index": k} for k, t in enumerate(truth)]  # fmt: skip
            if position == flip_at:
                i = rng.randrange(len(labels))
                labels[i]["class"] = rng.choice([c for c in CLASSES if c != labels[i]["class"]])
            elif rng.random() < 2 / 3:
                inject(rng, rng.choice(injected_kinds), labels, prelabels)
            submission = qa.Labelled(
                [{k: v for k, v in label.items() if k not in ("truth", "truth_index")} for label in labels],
                prelabels, WIDTH, HEIGHT, ONTOLOGY, history,
            )  # fmt: skip
            raised.append({f.issue.value for f in qa.check(submission, settings)})
            really.append(true_issues(labels, truth, prelabels, settings))
            submitted.append({label["track_id"]: label["class"] for label in labels if label["track_id"]})
            # The service sends an earlier frame this submission outvotes back to review.
            for track in submitted[-1]:
                votes = {str(j): frame[track] for j, frame in enumerate(submitted) if track in frame}
                for j in qa.minority(votes):
                    raised[int(j)].add("track_class_flip")
            for label in labels:  # as submitted, errors included: what the service would count
                if label["track_id"]:
                    history.setdefault(label["track_id"], Counter())[label["class"]] += 1
            made += 1
        for issues, truly in zip(raised, really, strict=True):
            present.update(truly)
            for issue in issues:
                flagged[issue] += 1
                hits[issue] += issue in truly
    return flagged, hits, present, made


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=6000)
    parser.add_argument("--seed", type=int, default=3)
    args = parser.parse_args()
    settings = QaSettings()
    flagged, hits, present, made = run(args.frames, args.seed, settings)
    print(f"Label QA on {made} frames of pasted real digits (seed {args.seed}), QaSettings defaults:\n")
    print("| issue | frames with it | flagged | precision | recall |")
    print("|---|---|---|---|---|")
    for kind in KINDS:
        precision = hits[kind] / flagged[kind] if flagged[kind] else float("nan")
        recall = hits[kind] / present[kind] if present[kind] else float("nan")
        print(f"| {kind} | {present[kind]} | {flagged[kind]} | {precision:.3f} | {recall:.3f} |")


if __name__ == "__main__":
    main()
