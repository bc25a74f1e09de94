"""Which submissions are reviewed, and what the reviewed sample says about the error rate.

A task is reviewed when any rule below says so; the first that applies is its reason:
  qa           a QA check flagged it
  relabelled   a reviewer rejected an earlier round of it
  new_labeller one of the labeller's first `new_labeller_tasks`
  stratum      its labeller or one of its classes has fewer than `min_per_stratum` reviews this period
  sampled      its draw (from the task id and the seed, so a replay draws the same) is under the rate
  label_error  evaluate's model disagrees with its labels (labels.flagged: overlooked, badly located, swapped)
Only `sampled` reviews are a random sample, so only they estimate the error rate (the others are
chosen because an error is more likely, or are few by design).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass

from scipy.stats import binomtest

from .settings import ReviewSettings

QA, RELABELLED, NEW_LABELLER, STRATUM, SAMPLED = "qa", "relabelled", "new_labeller", "stratum", "sampled"
LABEL_ERROR = "label_error"  # evaluate's model disagrees with the labels (labels.flagged)
ERRORS = ("corrected", "rejected")  # the verdicts that mean the labeller's labels were wrong


def draw(task_id: str, seed: str) -> float:
    """A number in [0, 1) fixed by the task id and the seed."""
    digest = hashlib.sha256(f"{seed}\0{task_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


@dataclass(frozen=True)
class Rate:
    value: float
    why: str  # e.g. "camera cam-3 0.25, x2: labeller's error rate 0.12 > 0.05"


@dataclass(frozen=True)
class History:
    """What the period's reviews say about this submission's labeller and classes."""

    labeller_tasks: int  # the labeller's earlier submissions (all time)
    labeller_reviews: int  # reviews of the labeller this period
    class_reviews: dict[str, int]  # reviews per class this period
    labeller_random: int  # random (sampled) reviews of the labeller this period
    labeller_random_errors: int


def base_rate(settings: ReviewSettings, *, camera: str, classes: Iterable[str], labeller: str) -> Rate:
    """The project rate, or the highest override that applies."""
    candidates = [(settings.rate, f"project {settings.rate:g}")]
    if camera in settings.camera_rates:
        candidates.append((settings.camera_rates[camera], f"camera {camera} {settings.camera_rates[camera]:g}"))
    for name in sorted(set(classes)):
        if name in settings.class_rates:
            candidates.append((settings.class_rates[name], f"class {name} {settings.class_rates[name]:g}"))
    if labeller in settings.labeller_rates:
        given = settings.labeller_rates[labeller]
        candidates.append((given, f"labeller {labeller} {given:g}"))
    overrides = candidates[1:]
    value, why = max(overrides) if overrides else candidates[0]
    return Rate(value, why)


def adapted(rate: Rate, settings: ReviewSettings, history: History) -> Rate:
    """Doubled while the labeller's random-sample error rate is above target, halved while under
    half of it (bounded); unchanged until there are enough random reviews to say."""
    if not settings.adaptive or history.labeller_random < settings.adaptive_after:
        return rate
    error = history.labeller_random_errors / history.labeller_random
    if error > settings.target_error:
        value = min(settings.max_rate, max(rate.value * 2, settings.min_rate))
        return Rate(
            value, f"{rate.why}, raised to {value:g}: labeller's error rate {error:.2f} > {settings.target_error:g}"
        )
    if error < settings.target_error / 2:
        value = max(settings.min_rate, rate.value / 2)
        return Rate(
            value,
            f"{rate.why}, lowered to {value:g}: labeller's error rate {error:.2f} < {settings.target_error / 2:g}",
        )
    return rate


def reason(
    settings: ReviewSettings,
    *,
    task_id: str,
    camera: str,
    labeller: str,
    classes: Iterable[str],
    flags: Iterable[str],
    history: History,
    rejections: int = 0,
) -> tuple[str | None, str]:
    """(reason or None, why in words)."""
    flags, classes = sorted(set(flags)), sorted(set(classes))
    if flags:
        return QA, f"QA flagged: {', '.join(flags)}"
    if rejections:
        return RELABELLED, f"relabelled after {rejections} rejection(s)"
    if history.labeller_tasks < settings.new_labeller_tasks:
        return NEW_LABELLER, f"labeller's task {history.labeller_tasks + 1} of the first {settings.new_labeller_tasks}"
    if history.labeller_reviews < settings.min_per_stratum:
        return STRATUM, f"labeller {labeller} has {history.labeller_reviews} of {settings.min_per_stratum} reviews"
    for name in classes:
        if history.class_reviews.get(name, 0) < settings.min_per_stratum:
            return (
                STRATUM,
                f"class {name} has {history.class_reviews.get(name, 0)} of {settings.min_per_stratum} reviews",
            )
    rate = adapted(base_rate(settings, camera=camera, classes=classes, labeller=labeller), settings, history)
    drawn = draw(task_id, settings.seed)
    if drawn < rate.value:
        return SAMPLED, f"sampled: draw {drawn:.3f} < rate {rate.value:g} ({rate.why})"
    return None, f"not sampled: draw {drawn:.3f} >= rate {rate.value:g} ({rate.why})"


@dataclass(frozen=True)
class ErrorRate:
    reviewed: int
    errors: int
    rate: float
    low: float  # 95 % Wilson interval
    high: float


def error_rate(errors: int, reviewed: int) -> ErrorRate | None:
    """The estimated label error rate with its 95 % Wilson score interval (None without reviews)."""
    if reviewed <= 0:
        return None
    interval = binomtest(errors, reviewed).proportion_ci(confidence_level=0.95, method="wilson")
    return ErrorRate(reviewed, errors, errors / reviewed, float(interval.low), float(interval.high))
