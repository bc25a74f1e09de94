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
    try:
        lines = asyncio.run(_demo(settings, fps))
    except FileNotFoundError as exc:
        raise click.ClickException(str(exc)) from exc
    for line in lines:
        click.echo(line)
    if once:
        return
    click.echo(
        f"\nserving: gRPC framesift.v1.CurationService on :{settings.grpc_port}, "
        f"HTTP http://{settings.http_host}:{settings.http_port}/v1/curation/stats  (Ctrl-C stops)\n"
        "try: framesift query 'status:selected sort:-priority'"
    )
    from framesift.app.registry import SERVICES

    run_services(list(SERVICES))


async def _demo(settings, fps: float) -> list[str]:
    from framesift.app.demo import CLIPS, uploads
    from framesift.app.registry import build_adapters, downstream_pipeline
    from framesift.services.curate.queries import curation_stats
    from framesift.services.curate.query.cli_table import top_rows
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
            for upload in uploads(fps):
                try:
                    accepted = await ingest_frame(UploadFrame(upload.camera_id, upload.data, upload.captured_at), deps)
                    outcomes["created" if accepted.created else "repeat"] += 1
                except Exception as exc:
                    if client_error(exc) is None:
                        raise
                    outcomes["refused"] += 1
            await pipeline.finish()
        stats = curation_stats(adapters.engine, settings.curate)
        chosen = top_rows(adapters.engine, "status:selected sort:-priority", 5)
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
        "top selected (priority = uncertainty, rarity, novelty, quality):",
        *chosen,
    ]
    return lines


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
    import json

    from google.protobuf.json_format import MessageToDict

    from framesift.services.curate.query.language import QueryError

    try:
        if target:
            records = _remote_query(target, text, limit)
            rows = [MessageToDict(r, preserving_proto_field_name=True) for r in records]
            if as_json:
                for row in rows:
                    click.echo(json.dumps(row))
            else:
                for row in rows:
                    frame = row.get("frame", {})
                    click.echo(
                        f"{frame.get('frame_id', '')[:12]:<12} {frame.get('camera_id', ''):<14} "
                        f"{row.get('status', '')[13:].lower():<9} {row.get('priority', {}).get('total', 0):.3f} "
                        f"{row.get('decision', '')[:70]}"
                    )
            return
        _local_query(text, limit, as_json)
    except (QueryError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc


def _local_query(text: str, limit: int, as_json: bool) -> None:
    import json

    from google.protobuf.json_format import MessageToDict

    from framesift.app.process import load_settings
    from framesift.services.curate.migrations import current_version
    from framesift.services.curate.queries import record
    from framesift.services.curate.query.cli_table import header, query_rows, table_line
    from framesift.sql.engine import make_engine

    engine = make_engine(load_settings().sql_url)
    try:
        if current_version(engine) == 0:
            raise click.ClickException("no curation state here yet: run framesift demo (or up) first")
        rows = query_rows(engine, text, limit)
    finally:
        engine.dispose()
    if as_json:
        for row in rows:
            click.echo(json.dumps(MessageToDict(record(row), preserving_proto_field_name=True)))
        return
    click.echo(header())
    for row in rows:
        click.echo(table_line(row))


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
