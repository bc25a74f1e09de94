"""`framesift evaluate`: COCO metrics of a model's detections, without any server."""

from __future__ import annotations

import json
import sys
import time
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
@click.option(
    "--label-errors",
    "errors_path",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="Write label-error candidates (overlooked, badly_located, swapped; most severe first) as JSON lines.",
)
@click.option(
    "--plots",
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for precision-recall.png (per class) and slices.png (mAP by slice with intervals).",
)
@click.option("--svg", is_flag=True, help="Plots as SVG instead of PNG.")
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
    errors_path: Path | None,
    plots: Path | None,
    svg: bool,
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
    from framesift.services.evaluate.report import evaluate as evaluate_coco
    from framesift.services.evaluate.report import lines, load_files, object_outcomes

    try:
        truth_set, found_set, baseline_set = load_files(truth, found, baseline)
        report, evaluation = evaluate_coco(
            truth_set, found_set, dimensions=dimensions, baseline=baseline_set, resamples=resamples, seed=seed,
            objects=objects is not None,
        )  # fmt: skip
    except CocoInputError as error:
        raise click.ClickException(str(error)) from None
    if objects is not None:
        _write_lines(objects, object_outcomes(evaluation))
    if errors_path is not None:
        found_errors = _label_errors(truth_set, found_set)
        _write_lines(errors_path, found_errors)
        counts = {
            issue: sum(1 for row in found_errors if row["issue"] == issue)
            for issue in ("overlooked", "badly_located", "swapped")
        }
        click.echo("label-error candidates: " + ", ".join(f"{n} {issue}" for issue, n in counts.items()), err=True)
    if plots is not None:
        from framesift.services.evaluate.plots import write_all

        for path in write_all(report, plots, ".svg" if svg else ".png"):
            click.echo(f"plot: {path}", err=True)
    if as_json:
        click.echo(json.dumps(report.as_json()))
        return
    for line in lines(report):
        click.echo(line)


def _write_lines(path: Path, rows) -> None:
    """Written whole, then renamed: an interrupted run leaves no half a file behind."""
    partial = path.with_name(path.name + ".partial")
    with partial.open("w") as sink:
        for row in rows:
            sink.write(json.dumps(row) + "\n")
    partial.replace(path)


def _label_errors(truth, found) -> list[dict]:
    from framesift.app.process import load_settings
    from framesift.services.evaluate import label_errors

    thresholds = load_settings().evaluate.label_errors
    scores = label_errors.box_scores(truth, found, confident_score=thresholds.confident_score)
    return [
        {
            "issue": c.issue.value,
            "image_id": c.image_id,
            "score": round(c.score, 6),
            "bbox": [round(v, 2) for v in c.box],
            "category_id": c.category_id,
            "annotation_id": c.annotation_id,
            "suggested_category_id": c.suggested_category_id,
        }
        for c in label_errors.candidates(scores, thresholds)
    ]


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
    "--images",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Your own images instead of the digits: one folder per class (or, with --coco, the COCO file's images).",
)
@click.option(
    "--coco",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A COCO file for --images: each image's class is its most frequent category.",
)
@click.option(
    "--digits",
    type=click.IntRange(50),
    default=None,
    help="Use only this many sources per seed (a quicker, noisier run); default all (digits: 1 257).",
)
@click.option("--json", "as_json", is_flag=True, help="The results as one JSON object on stdout.")
def selection(
    seeds: int, out: Path, budgets: str, images: Path | None, coco: Path | None, digits: int | None, as_json: bool
) -> None:
    """framesift's selection against random selection at the same labelling budget, on real
    labelled images (scikit-learn's digits, or yours) made into a pool with a fleet's duplicates and junk."""
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
    if coco is not None and images is None:
        raise click.UsageError("--coco needs --images, the folder its file_names are under")
    try:
        dataset = (
            experiment.digits() if images is None
            else experiment.coco_images(coco, images) if coco is not None
            else experiment.image_folder(images)
        )  # fmt: skip
    except (ValueError, KeyError, OSError) as exc:
        raise click.ClickException(str(exc)) from None
    results = [
        experiment.run_seed(seed, spend, source_limit=digits, dataset=dataset)
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


def _engine():
    from framesift.app.process import local_engine

    return local_engine("evaluate")


def _service_errors(call):
    """The evaluate service's own errors, as a one-line CLI error."""
    from framesift.services.evaluate.errors import classify

    try:
        return call()
    except Exception as exc:
        if classify(exc) is None:
            raise
        raise click.ClickException(str(exc)) from None


def _report_lines(found) -> list[str]:
    from framesift.services.evaluate.report import grid, render

    metrics = "  ".join(
        f"{name} {found.metrics[name]:.3f}" for name in ("map", "ap50", "ap75", "ar100") if name in found.metrics
    )
    out = [
        f"{found.run_id}  {found.model_version}  split {found.split}: {found.images} frames, {found.objects} objects, "
        f"{found.detections} detections",
        metrics,
    ]
    if found.frames_without_predictions:
        out.append(f"{found.frames_without_predictions} labelled frames without this model's detections (left out)")
    if found.label_issues:
        issues = ", ".join(f"{count} {issue}" for issue, count in sorted(found.label_issues.items()))
        out.append(f"label-error candidates sent to review: {issues}")
    if found.detections_outside_ontology:
        out.append(f"{found.detections_outside_ontology} detections of classes outside the ontology (left out)")
    if found.slices:
        table = grid(("slice", 28), ("frames", 7), ("objects", 8), ("mAP", 6), ("95 % CI", 14), ("AP50", 6))
        for item in found.slices:
            low, high = item.ci95_low.get("map"), item.ci95_high.get("map")
            span = "-" if low is None else f"[{low:.3f}, {high:.3f}]"
            table.add_row(
                item.slice, str(item.support), str(item.objects), f"{item.metrics.get('map', float('nan')):.3f}", span,
                f"{item.metrics.get('ap50', float('nan')):.3f}",
            )  # fmt: skip
        out += ["", "slices, worst first", *render(table)]
    return out


@evaluate.command("model")
@click.argument("model_version")
@click.option("--slice", "dimensions", multiple=True, help="Slice dimensions (default: FRAMESIFT_EVALUATE__SLICES).")
@click.option("--json", "as_json", is_flag=True, help="The report as JSON.")
def evaluate_model(model_version: str, dimensions: tuple[str, ...], as_json: bool) -> None:
    """Evaluate a model version (name/version, as embed reports it) on the evaluation split of the
    local database; the run is stored, and the evaluate service sends it on eval.reports."""
    from framesift.platform.jsonform import as_json as proto_json
    from framesift.services.evaluate import runs, slices

    engine, settings = _engine()
    chosen = [slices.dimension_name(name) for name in (dimensions or settings.evaluate.slices)]
    errors = settings.evaluate.label_errors if settings.evaluate.flag_label_errors else None
    made = _service_errors(
        lambda: runs.evaluate_model(
            engine, model_version, settings.evaluate.split.value, chosen,
            resamples=settings.evaluate.resamples, seed=settings.evaluate.seed, label_errors=errors,
        )
    )  # fmt: skip
    made.report.requested_by = "cli"
    runs.store_run(engine, made, time.time)
    found = made.report
    if as_json:
        click.echo(json.dumps(proto_json(found)))
        return
    for line in _report_lines(found):
        click.echo(line)


@evaluate.command("reports")
@click.option("--model", "model_version", default="", help="Only this model version's runs.")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 500))
def evaluate_reports(model_version: str, limit: int) -> None:
    """Stored evaluation runs, newest first."""
    from framesift.services.evaluate import runs

    engine, _ = _engine()
    found = runs.list_reports(engine, model_version or None, limit)
    if not found:
        click.echo("no evaluation runs yet")
    for item in found:
        when = time.strftime("%Y-%m-%d %H:%M", time.gmtime(item.created_at.seconds))
        click.echo(
            f"{item.run_id}  {when}  {item.model_version:<24} map {item.metrics.get('map', 0):.3f} {item.images} frames"
        )


@evaluate.command("compare")
@click.argument("model_a")
@click.argument("model_b")
@click.option("--slice", "dimensions", multiple=True, help="Image slices to compare on too (camera, time, ...).")
def evaluate_compare(model_a: str, model_b: str, dimensions: tuple[str, ...]) -> None:
    """MODEL_A minus MODEL_B on the evaluation frames both ran on, with paired bootstrap intervals."""
    from framesift.services.evaluate import runs

    engine, settings = _engine()
    found = _service_errors(
        lambda: runs.compare_models(
            engine, model_a, model_b, settings.evaluate.split.value, list(dimensions),
            resamples=settings.evaluate.resamples, seed=settings.evaluate.seed,
        )
    )  # fmt: skip
    _comparison_lines(found)


def _comparison_lines(found) -> None:
    click.echo(f"{found.model_a} minus {found.model_b} on {found.images} frames (paired bootstrap)")
    for item in found.slices:
        low, high = item.ci95_low.get("map"), item.ci95_high.get("map")
        span = "-" if low is None else f"[{low:+.3f}, {high:+.3f}]"
        click.echo(
            f"  {item.slice:<28} {item.support:>6}  map {item.difference['map']:+.3f}  {span:<18} {item.verdict}"
        )


@evaluate.command("candidate")
@click.argument("repository", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "--backend",
    type=click.Choice(["local", "triton"]),
    default="local",
    show_default=True,
    help="Run it in-process (ONNX Runtime) or on the Triton server at FRAMESIFT_TRITON_URL.",
)
@click.option("--slice", "dimensions", multiple=True, help="Slice dimensions (default: FRAMESIFT_EVALUATE__SLICES).")
@click.option("--against", default="", help="A model version to compare it with on the same frames (name/version).")
def evaluate_candidate(repository: Path, backend: str, dimensions: tuple[str, ...], against: str) -> None:
    """Run a model repository that is not deployed over the evaluation split (the frames from the
    object store), then evaluate it like any model version, and optionally compare it."""
    import asyncio

    from framesift.app.registry import build_adapters
    from framesift.inference.backends.base import close_backend
    from framesift.inference.factory import build_backend
    from framesift.runtime.settings import EmbedBackendKind
    from framesift.services.evaluate import runs, slices
    from framesift.services.evaluate.candidate import NoDetectorError, predict_split

    settings = _engine()[1].model_copy(
        update={"embed_backend": EmbedBackendKind(backend), "model_repository": repository}
    )
    adapters = build_adapters(settings, services=["evaluate"])
    split = settings.evaluate.split.value

    async def run():
        await adapters.store.start()
        model = build_backend(settings)
        try:
            return await predict_split(adapters.engine, adapters.store, model, split)
        finally:
            await close_backend(model)

    try:
        done = asyncio.run(run())
    except (NoDetectorError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"{done.model_version}: detections on {done.frames} frames of the {split} split"
               + (f" ({done.missing} frames not in the store, left out)" if done.missing else ""))  # fmt: skip
    chosen = [slices.dimension_name(name) for name in (dimensions or settings.evaluate.slices)]
    errors = settings.evaluate.label_errors if settings.evaluate.flag_label_errors else None
    made = _service_errors(
        lambda: runs.evaluate_model(
            adapters.engine, done.model_version, split, chosen,
            resamples=settings.evaluate.resamples, seed=settings.evaluate.seed, label_errors=errors,
        )
    )  # fmt: skip
    made.report.requested_by = "cli candidate"
    runs.store_run(adapters.engine, made, time.time)
    for line in _report_lines(made.report):
        click.echo(line)
    if against:
        found = _service_errors(
            lambda: runs.compare_models(
                adapters.engine, done.model_version, against, split, [d for d in chosen if d != "class"],
                resamples=settings.evaluate.resamples, seed=settings.evaluate.seed,
            )
        )  # fmt: skip
        _comparison_lines(found)
    adapters.close()
