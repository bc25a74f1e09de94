"""`framesift label ...`: what a person does by hand with labelling (ontology, accounts, queue,
figures), on the database the settings name."""

from __future__ import annotations

import json
import time
from pathlib import Path

import click

from framesift.app.settings import load_settings


def _engine():
    from framesift.app.process import local_engine

    return local_engine("label")


@click.group()
def label() -> None:
    """Labelling: the ontology, labellers, the task queue and its figures."""


@label.group()
def ontology() -> None:
    """The versioned ontology (ids never move; a change makes a new version)."""


@ontology.command("set")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def ontology_set(path: Path) -> None:
    """Apply a YAML or JSON ontology file: a new version when it changes anything."""
    from framesift.services.label.ontology import OntologyError, read_file
    from framesift.services.label.ontology_store import apply

    engine, _ = _engine()
    try:
        proposed = read_file(path)
        with engine.begin() as connection:
            made, changed = apply(connection, proposed, author=f"cli {path.name}", now=time.time())
    except OntologyError as exc:
        raise click.ClickException(str(exc)) from exc
    word = "made" if changed else "unchanged: still"
    click.echo(f"ontology {word} version {made.version} ({len(made.active())} active classes)")


@ontology.command("show")
@click.option("--version", "number", type=int, default=None, help="An earlier version (default: the latest).")
@click.option("--json", "as_json", is_flag=True, help="The version as JSON.")
def ontology_show(number: int | None, as_json: bool) -> None:
    from framesift.services.label.ontology_store import OntologyVersionNotFoundError, latest, version

    engine, _ = _engine()
    with engine.connect() as connection:
        try:
            found = latest(connection) if number is None else version(connection, number)
        except OntologyVersionNotFoundError as exc:
            raise click.ClickException(str(exc)) from exc
    if found is None:
        raise click.ClickException("no ontology yet: framesift label ontology set FILE")
    if as_json:
        click.echo(json.dumps(found.document(), indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"ontology version {found.version}")
    for column in ("id", "name", "kind", "attributes", "required", "min px", "state"):
        table.add_column(column)
    for c in found.classes:
        attributes = ", ".join(a.name + (f" ({'/'.join(a.values)})" if a.values else "") for a in c.attributes)
        state = "retired" if c.retired else "active"
        table.add_row(str(c.id), c.title, c.kind.value, attributes, ", ".join(c.required_attributes),
                      str(c.min_box_px or ""), state)  # fmt: skip
    Console().print(table)


@label.group()
def labellers() -> None:
    """Labeller and reviewer accounts (API keys shown once, stored hashed)."""


@labellers.command("add")
@click.argument("labeller_id")
@click.option("--reviewer", is_flag=True, help="May review others' tasks (and label).")
def labellers_add(labeller_id: str, reviewer: bool) -> None:
    """Create a labeller; prints the API key (shown only now) as the last word."""
    from framesift.services.label.labellers import InvalidLabellerIdError, LabellerExistsError, Labellers

    engine, _ = _engine()
    try:
        key = Labellers(engine).add(labeller_id, reviewer=reviewer)
    except (InvalidLabellerIdError, LabellerExistsError) as exc:
        raise click.ClickException(str(exc)) from exc
    role = "reviewer" if reviewer else "labeller"
    click.echo(f"{role} {labeller_id} created; their API key (shown only now): {key}")


@labellers.command("disable")
@click.argument("labeller_id")
def labellers_disable(labeller_id: str) -> None:
    """Stop a labeller's key (running services stop accepting it within 30 s)."""
    from framesift.services.label.labellers import LabellerNotFoundError, Labellers

    engine, _ = _engine()
    try:
        Labellers(engine).disable(labeller_id)
    except LabellerNotFoundError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"labeller {labeller_id} disabled")


@labellers.command("list")
def labellers_list() -> None:
    from framesift.services.label.labellers import Labellers

    engine, _ = _engine()
    from rich.console import Console
    from rich.table import Table

    table = Table()
    for column in ("labeller", "role", "state"):
        table.add_column(column)
    for row in Labellers(engine).all():
        role = "reviewer" if row["reviewer"] else "labeller"
        table.add_row(row["labeller_id"], role, "disabled" if row["disabled"] else "active")
    Console().print(table)


@label.command("queue")
@click.option("--limit", default=10, show_default=True, type=click.IntRange(1, 1000))
def queue(limit: int) -> None:
    """Tasks by state, and the next ones a labeller would get."""
    import sqlalchemy as sa

    from framesift.services.label.desk import TASKS, TaskState
    from framesift.services.label.stats import task_counts

    engine, _ = _engine()
    with engine.connect() as connection:
        counts = task_counts(connection)
        rows = connection.execute(
            sa.select(TASKS.c.task_id, TASKS.c.frame_id, TASKS.c.camera_id, TASKS.c.priority, TASKS.c.prelabels)
            .where(TASKS.c.state == TaskState.QUEUED.value)
            .order_by(TASKS.c.priority.desc(), TASKS.c.task_id)
            .limit(limit)
        ).all()
    click.echo("  ".join(f"{state} {counts.get(state.value, 0)}" for state in TaskState))
    from rich.console import Console
    from rich.table import Table

    table = Table(title="next in the queue")
    for column in ("task", "frame", "camera", "priority", "pre-labels"):
        table.add_column(column)
    for row in rows:
        table.add_row(row.task_id[:8], row.frame_id, row.camera_id, f"{row.priority:.3f}", str(len(row.prelabels)))
    Console().print(table)


@label.command("stats")
@click.option("--json", "as_json", is_flag=True, help="Every figure as JSON.")
def label_stats(as_json: bool) -> None:
    """Reviewed error rates (95 % Wilson intervals) and what happened to the pre-labels."""
    from framesift.services.label.stats import summary

    engine, _ = _engine()
    with engine.connect() as connection:
        figures = summary(connection)
    if as_json:
        click.echo(json.dumps(figures, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    console = Console()
    console.print("tasks: " + ", ".join(f"{k} {v}" for k, v in sorted(figures["tasks"].items())))
    rates = Table(title="label error rate from random reviews (95 % Wilson interval)")
    for column in ("by", "who", "reviewed", "errors", "rate", "interval"):
        rates.add_column(column)
    overall = figures["error_rate"]["overall"]
    groups = [("all", {"all": overall} if overall else {})]
    groups += [(g, figures["error_rate"][f"by_{g}"]) for g in ("labeller", "class", "camera")]
    for group, entries in groups:
        for who, r in entries.items():
            rates.add_row(group, who, str(r["reviewed"]), str(r["errors"]), f"{r['rate']:.3f}",
                          f"{r['low']:.3f} - {r['high']:.3f}")  # fmt: skip
    console.print(rates)
    costs = Table(title="pre-labels by model and class (kept %: of the pre-labels, unchanged)")
    kinds = ("kept", "adjusted", "reclassed", "deleted", "added")
    for column in ("model", "class", *kinds, "kept %"):
        costs.add_column(column)
    for model, classes in figures["prelabels"]["by_model"].items():
        for name, counts in classes.items():
            offered = sum(counts[k] for k in kinds[:4])
            share = f"{100 * counts['kept'] / offered:.0f}" if offered else "-"
            costs.add_row(model, name, *(str(counts[k]) for k in kinds), share)
    console.print(costs)
    with_pre = figures["prelabels"]["median_seconds_with_prelabels"]
    without = figures["prelabels"]["median_seconds_without_prelabels"]
    console.print(f"median seconds per task: with pre-labels {_seconds(with_pre)}, without {_seconds(without)}")


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


@label.command("export")
@click.option("--format", "kind", required=True, type=click.Choice(["coco", "yolo", "label-studio"]))
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path), help="A new, empty directory.")
@click.option("--no-images", is_flag=True, help="Name frames by object key instead of copying them.")
@click.argument("query", nargs=-1)
def export(kind: str, out: Path, no_images: bool, query: tuple[str, ...]) -> None:
    """Labelled frames as a dataset version: QUERY is terms like camera:cam-1 class:car batch:W
    split:val since:SECONDS until:SECONDS (default: the train and val splits, never evaluation)."""
    import asyncio

    from framesift.app.registry import build_adapters
    from framesift.services.label import exports
    from framesift.services.label.exports import DirectorySink, ExportError, ExportFormat, ExportQuery

    settings = load_settings()

    async def run() -> exports.Export:
        adapters = build_adapters(settings, services=["label"])
        await adapters.start()
        try:
            sink = DirectorySink(out)
            return await exports.export_dataset(
                adapters.engine, adapters.store, settings.splits, ExportFormat(kind), ExportQuery.parse(query),
                lambda _id: (sink, str(out)), with_images=not no_images, now=time.time(),
            )  # fmt: skip
        finally:
            adapters.close()

    try:
        made = asyncio.run(run())
    except ExportError as exc:
        raise click.ClickException(str(exc)) from exc
    frames = ", ".join(f"{split} {count}" for split, count in made.manifest["frames"].items())
    click.echo(f"dataset {made.dataset_id} ({kind}): {frames} frames, {made.manifest['annotations']} annotations")
    click.echo(f"written to {out}; manifest sha-256 {made.manifest_sha256}")
