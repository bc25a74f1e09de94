"""`framesift demo`: the whole pipeline on real footage, on the embedded default."""

from __future__ import annotations

import asyncio
import time
from collections import Counter

import click


@click.command()
@click.option(
    "--fps", default=4.0, show_default=True, type=click.FloatRange(0.1, 25), help="Frames sampled per second."
)
@click.option(
    "--budget", default=12, show_default=True, type=click.IntRange(0), help="Frames the labelling budget buys."
)
@click.option("--once", is_flag=True, help="Print the results and exit instead of serving the query endpoints.")
def demo(fps: float, budget: int, once: bool) -> None:
    """Ingest real clips (and bad uploads) through quality, embed and curate; print what was chosen.

    Then serves CurationService on gRPC and HTTP until Ctrl-C (try `framesift query`).
    """
    from framesift.app.process import load_settings, run_services
    from framesift.runtime.logs import configure_logging
    from framesift.runtime.settings import BusKind

    settings = load_settings()
    settings = settings.model_copy(
        update={"curate": settings.curate.model_copy(update={"budget_per_window": budget, "budget_per_day": budget})}
    )
    if settings.bus is BusKind.KAFKA:
        raise click.UsageError("the demo runs on the embedded default (unset FRAMESIFT_BUS)")
    configure_logging("WARNING", json_lines=False)
    click.echo(
        f"framesift demo: 3 real clips sampled at {fps:g} fps, plus corrupt, dark, blurred, washed-out and\n"
        "re-sent uploads, through ingest, quality, embed, curate and label\n"
        f"data: {settings.data_dir}"
    )
    try:
        lines = asyncio.run(_demo(settings, fps, say=click.echo))
    except FileNotFoundError as exc:
        raise click.ClickException(str(exc)) from exc
    for line in lines:
        click.echo(line)
    url = f"http://{settings.http_host}:{settings.http_port}"
    click.echo(
        "\nnext:\n"
        "  framesift query 'status:selected sort:-priority'   what the budget bought, and why\n"
        "  framesift query 'reason:near_duplicate'            what was dropped (any reason, camera, metric)\n"
        f"  {url}/                        the browser UI: explore, label, review\n"
        f"  {url}/api                     every HTTP endpoint; /docs to try them\n"
        f"  {url}/v1/curation/stats       the reduction and the cost avoided\n"
        "  framesift label labellers add NAME                 its key signs you in to label at /ui/label"
    )
    if once:
        click.echo("(framesift demo without --once serves these until Ctrl-C; the data stays in the data dir)")
        return
    click.echo(f"\nserving: open {url}/ in a browser (Ctrl-C stops)")
    click.echo(f"         HTTP {url}, gRPC framesift.v1.CurationService on :{settings.grpc_port}")
    from framesift.app.registry import SERVICES

    run_services(list(SERVICES), quiet=True)


async def _demo(settings, fps: float, say=lambda line: None) -> list[str]:
    from framesift.app.demo import CLIPS, uploads
    from framesift.app.registry import build_adapters, downstream_pipeline
    from framesift.services.curate.queries import curation_stats, record
    from framesift.services.curate.query.cli_table import query_rows, table
    from framesift.services.ingest.bootstrap import ingest_deps
    from framesift.services.ingest.cameras import CameraRegistry
    from framesift.services.ingest.errors import client_error
    from framesift.services.ingest.handlers import UploadFrame, ingest_frame

    adapters = build_adapters(settings, client_id="framesift-demo")
    await adapters.start()
    cameras = CameraRegistry(adapters.engine)
    for camera in CLIPS.values():
        if not cameras.exists(camera):
            cameras.add(camera)
    await adapters.bus.start()
    outcomes: Counter[str] = Counter()
    started = time.perf_counter()
    try:
        deps = ingest_deps(adapters, adapters.settings.ingest)
        async with downstream_pipeline(adapters) as pipeline:
            say("uploading frames (each is judged, embedded and scored as it arrives) ...")
            for upload in uploads(fps):
                try:
                    accepted = await ingest_frame(UploadFrame(upload.camera_id, upload.data, upload.captured_at), deps)
                    outcomes["created" if accepted.created else "repeat"] += 1
                except Exception as exc:
                    if client_error(exc) is None:
                        raise
                    outcomes["refused"] += 1
            say(f"{sum(outcomes.values())} uploads sent; choosing what to label from every window ...")
            await pipeline.finish()
        stats = curation_stats(adapters.engine, settings.curate)
        labelling = _labelling_lines(adapters.engine, settings)
        chosen = table(
            record(row, settings.curate.lateness_s)
            for row in query_rows(adapters.engine, "status:selected sort:-priority", 5)
        )
    finally:
        await adapters.bus.stop()
        adapters.close()
    seconds = time.perf_counter() - started
    by_status = dict(stats.frames_by_status)
    lines = [
        f"uploads    {sum(outcomes.values())} in {seconds:.1f} s: {outcomes['created']} new frames, "
        f"{outcomes['repeat']} exact re-sends absorbed by ingest, {outcomes['refused']} refused",
        f"frames     {stats.frames_ingested}",
        f"rejected   {by_status.get('rejected', 0)} ({stats.reduction_percent:.1f} % of the frames)",
        *(
            f"  {reason:<17} {count}"
            for reason, count in sorted(stats.rejections_by_reason.items(), key=lambda i: -i[1])
        ),
        f"duplicates {stats.duplicates}",
        f"embedded   {sum(by_status.get(s, 0) for s in ('embedded', 'skipped', 'selected', 'labelled'))}",
        f"selected   {stats.selected} for labelling; skipped {by_status.get('skipped', 0)}",
        f"labelling  {stats.selected} of {stats.frames_ingested} frames "
        f"({100.0 * stats.selected / max(stats.frames_ingested, 1):.1f} %); cost avoided "
        f"{stats.labelling_cost_avoided:.2f} at {stats.cost_per_frame:.2f} per frame",
        "top selected (priority: uncertainty, rarity, novelty and quality; see --json or Explain):",
        *chosen,
        *labelling,
    ]
    return lines


def _labelling_lines(engine, settings) -> list[str]:
    """The label service's side: the tasks the selection made, and which the review would sample."""
    import sqlalchemy as sa

    from framesift.app.demo import DEMO_ONTOLOGY
    from framesift.services.label import review
    from framesift.services.label.desk import TASKS
    from framesift.services.label.ontology import parse
    from framesift.services.label.ontology_store import apply, latest

    with engine.begin() as connection:
        ontology = latest(connection)
        if ontology is None:
            ontology, _ = apply(connection, parse(DEMO_ONTOLOGY), author="framesift demo", now=time.time())
        rows = connection.execute(sa.select(TASKS.c.task_id, TASKS.c.prelabels, TASKS.c.has_detector)).all()
    rate = settings.label.review
    sampled = sum(review.draw(row.task_id, rate.seed) < rate.rate for row in rows)
    prelabels = sum(len(row.prelabels) for row in rows)
    detector = "" if any(row.has_detector for row in rows) else " (no detector here: labelling starts empty)"
    return [
        f"tasks      {len(rows)} created for labelling, {prelabels} pre-labels{detector}",
        f"ontology   v{ontology.version}, {len(ontology.active())} classes (framesift label ontology show)",
        f"review     {sampled} of {len(rows)} sampled at rate {rate.rate:g} once labelled "
        f"(and new labellers' first {rate.new_labeller_tasks}, QA flags)",
    ]


@click.command()
@click.argument("text", default="")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 1000))
@click.option("--json", "as_json", is_flag=True, help="One JSON object per frame (FrameRecord's JSON form).")
@click.option("--grpc", "target", default=None, help="A running CurationService (host:port); needed for quoted text.")
def query(text: str, limit: int, as_json: bool, target: str | None) -> None:
    """Frames matching a query, e.g. framesift query 'camera:cam-7 brightness<0.2 sort:-priority'.

    Without --grpc it reads the read model of this machine's settings (FRAMESIFT_DATABASE_URL or
    the embedded default).
    """

    from framesift.contracts.query import QueryError

    try:
        if target:
            records = _remote_query(target, text, limit)
            _print_records(records, as_json)
            return
        _local_query(text, limit, as_json)
    except (QueryError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc


def _local_query(text: str, limit: int, as_json: bool) -> None:
    from framesift.app.process import load_settings
    from framesift.services.curate.migrations import current_version
    from framesift.services.curate.queries import record
    from framesift.services.curate.query.cli_table import query_rows
    from framesift.sql.engine import make_engine

    # The embedded default's read model is framesift up's, which runs live windows: date waiting
    # frames by those (a window setting given explicitly wins, as it does for up).
    settings = load_settings().with_live_windows()
    engine = make_engine(settings.sql_url)
    try:
        if current_version(engine) == 0:
            raise click.ClickException("no curation state here yet: run framesift demo (or up) first")
        rows = query_rows(engine, text, limit)
    finally:
        engine.dispose()
    _print_records([record(row, settings.curate.lateness_s) for row in rows], as_json)


def _print_records(records, as_json: bool) -> None:
    """The same output for the local read model and a remote CurationService."""
    import json

    from framesift.platform.jsonform import as_json as message_json
    from framesift.services.curate.query.cli_table import table

    if as_json:
        for found in records:
            click.echo(json.dumps(message_json(found)))
        return
    for line in table(records):
        click.echo(line)


def _remote_query(target: str, text: str, limit: int):
    import grpc

    from framesift.v1 import curation_pb2, curation_pb2_grpc

    with grpc.insecure_channel(target) as channel:
        stub = curation_pb2_grpc.CurationServiceStub(channel)
        try:
            response = stub.QueryFrames(curation_pb2.QueryFramesRequest(query=text, page_size=limit), timeout=30)
        except grpc.RpcError as exc:
            raise click.ClickException(f"{exc.code().name}: {exc.details()}") from exc
    return list(response.frames)
