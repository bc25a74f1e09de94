"""`framesift evaluate`: COCO metrics of a model's detections, without any server."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click


@click.group(invoke_without_command=True)
@click.option("--gt", "truth", type=click.Path(exists=True, dir_okay=False, path_type=Path), help="COCO ground truth.")
@click.option("--pred", "found", type=click.Path(exists=True, dir_okay=False, path_type=Path), help="COCO results.")
@click.option(
    "--slice",
    "dimensions",
    multiple=True,
    help="class, camera, time (of day) or any image field; repeat for several. Each value gets its own metrics.",
)
@click.option(
    "--baseline",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Another model's COCO results on the same images: the paired difference, overall and per slice.",
)
@click.option("--resamples", default=1000, show_default=True, type=click.IntRange(10, 100_000), help="Bootstrap draws.")
@click.option("--seed", default=0, show_default=True, type=int, help="Bootstrap seed (a report is reproducible).")
@click.option(
    "--objects",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="Write each detection's and ground-truth box's outcome at IoU 0.5 (tp / fp / fn, IoU) as JSON lines.",
)
@click.option("--json", "as_json", is_flag=True, help="One JSON object on stdout instead of the tables.")
@click.pass_context
def evaluate(
    context: click.Context,
    truth: Path | None,
    found: Path | None,
    dimensions: tuple[str, ...],
    baseline: Path | None,
    resamples: int,
    seed: int,
    objects: Path | None,
    as_json: bool,
) -> None:
    """Evaluate detections against ground truth (COCO mAP@[.5:.95], AP50, AP75, AR, per class,
    by slice with bootstrap 95 % intervals), e.g.

        framesift evaluate --gt coco/evaluation.json --pred preds.json --slice camera --slice class
    """
    if context.invoked_subcommand is not None:
        return
    if truth is None or found is None:
        raise click.UsageError("give --gt and --pred (COCO files), or a subcommand")
    from framesift.services.evaluate.coco_input import CocoInputError
    from framesift.services.evaluate.report import evaluate_files, lines, object_outcomes

    try:
        report, evaluation = evaluate_files(
            truth, found, dimensions=dimensions, baseline_path=baseline, resamples=resamples, seed=seed,
            objects=objects is not None,
        )  # fmt: skip
    except CocoInputError as error:
        raise click.ClickException(str(error)) from None
    if objects is not None:
        # Written whole, then renamed: an interrupted run leaves no half a file behind.
        partial = objects.with_name(objects.name + ".partial")
        with partial.open("w") as sink:
            for row in object_outcomes(evaluation):
                sink.write(json.dumps(row) + "\n")
        partial.replace(objects)
    if as_json:
        click.echo(json.dumps(report.as_json()))
        return
    for line in lines(report):
        click.echo(line)


@evaluate.command()
@click.option(
    "--seeds", default=5, show_default=True, type=click.IntRange(1, 100), help="Splits and pools to average over."
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("selection-report"),
    show_default=True,
    help="Folder for learning-curves.png and results.json.",
)
@click.option(
    "--budgets", default="30,60,120,240", show_default=True, help="Label budgets to compare at, comma-separated."
)
@click.option(
    "--digits",
    type=click.IntRange(50),
    default=None,
    help="Use only this many source digits per seed (a quicker, noisier run); default all (~1 258).",
)
@click.option("--json", "as_json", is_flag=True, help="The results as one JSON object on stdout.")
def selection(seeds: int, out: Path, budgets: str, digits: int | None, as_json: bool) -> None:
    """framesift's selection against random selection at the same labelling budget, on real
    labelled images (scikit-learn's digits) made into a pool with a fleet's duplicates and junk."""
    from tqdm import tqdm

    from framesift.app import selection_experiment as experiment

    try:
        spend = tuple(sorted({int(part) for part in budgets.split(",") if part.strip()}))
    except ValueError:
        raise click.BadParameter(
            "a comma-separated list of whole numbers, e.g. 30,60,120", param_hint="--budgets"
        ) from None
    if not spend or spend[0] < 1:
        raise click.BadParameter("at least one budget, each at least 1 label", param_hint="--budgets")
    results = [
        experiment.run_seed(seed, spend, source_limit=digits)
        for seed in tqdm(range(seeds), unit="seed", disable=None, file=sys.stderr)
    ]
    summary = experiment.summarise(results, spend)
    needed = experiment.labels_needed(summary)
    out.mkdir(parents=True, exist_ok=True)
    experiment.plot(summary, results, out / "learning-curves.png")
    document = experiment.as_json(summary, results, needed)
    (out / "results.json").write_text(json.dumps(document, indent=2) + "\n")
    if as_json:
        click.echo(json.dumps(document))
        return
    for line in experiment.lines(summary, results, needed):
        click.echo(line)
    click.echo(f"learning curves: {out / 'learning-curves.png'}")
