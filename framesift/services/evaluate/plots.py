"""An evaluation's pictures: precision-recall curves per class, and the metric by slice with its
95 % interval. PNG or SVG (by the file's suffix), drawn without a screen."""

from __future__ import annotations

import math
from pathlib import Path

from .report import Report
from .resampling import RECALL_POINTS

SUFFIXES = (".png", ".svg")


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    return pyplot


def precision_recall(report: Report, path: Path) -> None:
    pyplot = _pyplot()
    figure, axes = pyplot.subplots(figsize=(6.4, 4.8), dpi=120)
    for item in sorted(report.classes, key=lambda c: c.name):
        if item.precision_at_recall:
            axes.plot(RECALL_POINTS, item.precision_at_recall, label=f"{item.name} (AP50 {item.ap50:.2f})")
    axes.set_xlabel("recall")
    axes.set_ylabel("precision (interpolated, IoU 0.5)")
    axes.set_xlim(0, 1)
    axes.set_ylim(0, 1.02)
    axes.grid(alpha=0.3)
    axes.legend(loc="lower left", fontsize="small")
    axes.set_title(f"precision-recall per class, {report.images} images")
    figure.tight_layout()
    figure.savefig(path)
    pyplot.close(figure)


def slices(report: Report, path: Path) -> None:
    """mAP per slice, worst at the top, with the bootstrap 95 % interval as an error bar."""
    pyplot = _pyplot()
    shown = report.slices[:40]  # the worst 40: a figure a person can read
    figure, axes = pyplot.subplots(figsize=(6.4, max(2.4, 0.28 * len(shown) + 1.2)), dpi=120)
    names = [item.name for item in shown][::-1]
    values = [item.metrics["map"] for item in shown][::-1]
    lows = [item.intervals["map"][0] for item in shown][::-1]
    highs = [item.intervals["map"][1] for item in shown][::-1]
    errors = [
        [0.0 if math.isnan(low) else value - low for value, low in zip(values, lows, strict=True)],
        [0.0 if math.isnan(high) else high - value for value, high in zip(values, highs, strict=True)],
    ]
    axes.barh(names, values, xerr=errors, color="#4c72b0", ecolor="#333333", capsize=2)
    axes.axvline(report.metrics["map"], color="#dd8452", linestyle="--", label=f"all: {report.metrics['map']:.3f}")
    axes.set_xlabel(f"mAP@[.5:.95] (bars: 95 % interval, {report.resamples} resamples)")
    axes.legend(loc="best", fontsize="small")
    axes.grid(axis="x", alpha=0.3)
    figure.tight_layout()
    figure.savefig(path)
    pyplot.close(figure)


def write_all(report: Report, folder: Path, suffix: str = ".png") -> list[Path]:
    if suffix not in SUFFIXES:
        raise ValueError(f"plots are {' or '.join(SUFFIXES)}, not {suffix!r}")
    folder.mkdir(parents=True, exist_ok=True)
    written = [folder / f"precision-recall{suffix}"]
    precision_recall(report, written[0])
    if report.slices:
        written.append(folder / f"slices{suffix}")
        slices(report, written[-1])
    return written
