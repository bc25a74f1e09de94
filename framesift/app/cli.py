"""The `framesift` command: everything a person does by hand."""

from __future__ import annotations

import contextlib
import sys
import time
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

import click

from framesift.app.settings import load_settings as _settings

if TYPE_CHECKING:
    from framesift.app.settings import Settings

# Each command imports what it needs when it runs: `framesift scan` must not pay for the bus, the
# services and their clients at start-up (a whole `scan` is timed against a plain decode).


def _run_services(*args, **kwargs) -> None:
    from framesift.app.process import run_services

    run_services(*args, **kwargs)


@click.group()
@click.version_option(package_name="framesift")
def main() -> None:
    """framesift: turn camera frame streams into a small, clean set of images worth labelling."""


@main.command()
def up() -> None:
    """Every service in one process (embedded default: in-process bus, SQLite, local folder store)."""
    from framesift.app.registry import SERVICES

    _run_services(list(SERVICES), live=True)


@main.command()
@click.argument("service", nargs=-1, required=True)
def run(service: tuple[str, ...]) -> None:
    """A service as its own process, adapters from settings (for docker-compose and Kubernetes);
    several names run those services in one process (embed and curate on one Qdrant local folder)."""
    from framesift.app.registry import SERVICES, unknown_service

    for name in service:
        if name not in SERVICES:
            raise click.BadParameter(unknown_service(name), param_hint="SERVICE")
    _run_services(list(dict.fromkeys(service)))


@main.group()
def cameras() -> None:
    """Manage cameras and their API keys."""


def _registry():
    from framesift.app.registry import create_schema
    from framesift.services.ingest.cameras import CameraRegistry
    from framesift.sql.engine import make_engine

    settings = _settings()
    if settings.database_url is None:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.sql_url)
    create_schema(engine, ["ingest"])
    return CameraRegistry(engine)


@cameras.command("add")
@click.argument("camera_id")
def cameras_add(camera_id: str) -> None:
    """Create a camera; prints its API key (shown once, stored hashed) as the last word."""
    from framesift.contracts.identifiers import InvalidIdentifierError
    from framesift.services.ingest.cameras import CameraExistsError

    try:
        api_key = _registry().add(camera_id)
    except (InvalidIdentifierError, CameraExistsError) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"camera {camera_id} created; its API key (shown only now): {api_key}")


@cameras.command("rotate-key")
@click.argument("camera_id")
def cameras_rotate(camera_id: str) -> None:
    """Give a camera a new API key; the old key stops working."""
    from framesift.services.ingest.cameras import CameraNotFoundError

    try:
        api_key = _registry().rotate(camera_id)
    except (CameraNotFoundError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"camera {camera_id} has a new API key (shown only now): {api_key}")


@cameras.command("list")
def cameras_list() -> None:
    """The cameras that may upload, with when each was created (keys are never shown again)."""
    registry = _registry()
    found = registry.cameras()
    if not found:
        click.echo("no cameras yet: framesift cameras add ID")
        return
    click.echo(f"{'camera':<32} {'created (UTC)':<20} state")
    for camera in found:
        created = camera.created_at.strftime("%Y-%m-%d %H:%M:%S")
        click.echo(f"{camera.camera_id:<32} {created:<20} {'disabled' if camera.disabled else 'active'}")


@main.command()
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@click.option("--camera", "camera_id", required=True, help="Camera id the frames belong to.")
@click.option("--fps", default=2.0, show_default=True, help="Frames per second sampled from videos.")
@click.option("--url", default=None, help="A running ingest service (http://host:8080); default: this process.")
@click.option("--api-key", envvar="FRAMESIFT_API_KEY", default=None, help="Camera API key (or FRAMESIFT_API_KEY).")
@click.option("--restart", is_flag=True, help="Ignore progress from earlier runs.")
def ingest(path: Path, camera_id: str, fps: float, url: str | None, api_key: str | None, restart: bool) -> None:
    """Upload a folder of images (recursive) or frames sampled from videos."""
    from framesift.contracts.identifiers import InvalidIdentifierError, validate_camera_id

    try:
        validate_camera_id(camera_id)
    except InvalidIdentifierError as exc:
        raise click.BadParameter(str(exc), param_hint="--camera") from exc
    if fps <= 0:
        raise click.BadParameter("must be positive", param_hint="--fps")
    if url and not api_key:
        raise click.UsageError("--api-key (or FRAMESIFT_API_KEY) is needed with --url")
    from framesift.services.ingest.sources import estimate_count

    if estimate_count(path, fps) == 0:
        raise click.ClickException(f"no files under {path}: nothing to ingest")
    from framesift.bus.base import BusUnavailableError
    from framesift.runtime.logs import configure_logging

    settings = _settings()
    configure_logging("WARNING", json_lines=False)
    try:
        import asyncio

        summary = asyncio.run(_ingest(settings, path, camera_id, fps, url, api_key, restart))
    except _Interrupted as exc:
        raise click.ClickException(f"{exc} ({exc.done} files done and saved; run again to resume)") from exc
    except (PermissionError, ConnectionError, LookupError, BusUnavailableError) as exc:
        raise click.ClickException(str(exc)) from exc
    for line in summary.lines():
        click.echo(line)


async def _ingest(
    settings: Settings, path: Path, camera_id: str, fps: float, url: str | None, api_key: str | None, restart: bool
):
    from framesift.app.registry import build_adapters, downstream_pipeline
    from framesift.bus.inprocess import InProcessBus
    from framesift.services.ingest.uploader import HttpUploader, InProcessUploader, ProgressLog, Summary

    adapters = None
    if url:
        uploader = HttpUploader(url, api_key or "")
    else:
        from framesift.services.ingest.bootstrap import ingest_deps
        from framesift.services.ingest.cameras import CameraRegistry

        adapters = build_adapters(settings)
        await adapters.start()
        if not CameraRegistry(adapters.engine).exists(camera_id):
            raise LookupError(f"unknown camera {camera_id!r}; create it with: framesift cameras add {camera_id}")
        await adapters.bus.start()
        uploader = InProcessUploader(ingest_deps(adapters, adapters.settings.ingest))
    progress = ProgressLog(settings.data_dir / "ingest-progress", path, camera_id, url or "embedded", fps)
    if restart:
        progress.done.clear()
    summary = Summary()
    started = time.perf_counter()
    try:
        async with contextlib.AsyncExitStack() as stack:
            pipeline = None
            if adapters is not None and isinstance(adapters.bus, InProcessBus):
                # Nothing else reads this process's in-process bus: run the rest of the pipeline here.
                pipeline = await stack.enter_async_context(downstream_pipeline(adapters))
                marks = {topic.name: adapters.bus.end_offsets(topic.name) for topic in _verdict_topics()}
            try:
                await _upload_all(uploader, progress, summary, path, camera_id, fps)
                if pipeline is not None:
                    await pipeline.finish()  # every frame judged (and chosen from) before the command ends
                    summary.verdicts = _verdicts(adapters.bus, marks, summary.frame_ids)
            finally:
                summary.seconds = time.perf_counter() - started
                progress.close()
                await uploader.aclose()
    finally:
        if adapters is not None:
            await adapters.bus.stop()
            adapters.close()
    return summary


def _verdict_topics():
    from framesift.contracts.topics import FRAMES_CHECKED, FRAMES_EMBEDDED, FRAMES_REJECTED, FRAMES_SELECTED

    return (FRAMES_CHECKED, FRAMES_REJECTED, FRAMES_EMBEDDED, FRAMES_SELECTED)


def _verdicts(bus, since: dict[str, list[int]], mine: set[str]) -> Counter[str]:
    """What the pipeline published about this run's frames (`mine`) during this run: 'kept',
    'rejected' with one count per reason, 'embedded', 'selected'; and 'selected_earlier', frames of
    earlier runs that this run's flush decided."""
    from framesift.contracts.codec import decode
    from framesift.contracts.topics import FRAMES_CHECKED, FRAMES_EMBEDDED, FRAMES_REJECTED, FRAMES_SELECTED
    from framesift.contracts.vocabulary import Reason

    counts: Counter[str] = Counter(kept=len(bus.records(FRAMES_CHECKED.name, since[FRAMES_CHECKED.name])))
    counts["embedded"] = len(bus.records(FRAMES_EMBEDDED.name, since[FRAMES_EMBEDDED.name]))
    for record in bus.records(FRAMES_SELECTED.name, since[FRAMES_SELECTED.name]):
        frame_id = decode(FRAMES_SELECTED, record.value, record.headers).frame_id
        counts["selected" if frame_id in mine else "selected_earlier"] += 1
    for record in bus.records(FRAMES_REJECTED.name, since[FRAMES_REJECTED.name]):
        event = decode(FRAMES_REJECTED, record.value, record.headers)
        counts["rejected"] += 1
        counts.update(Reason.from_proto(reason).value for reason in event.reasons)
    return counts


class _Interrupted(RuntimeError):
    """An upload run stopped by an outage after some files were done (their progress is saved)."""

    def __init__(self, message: str, done: int) -> None:
        super().__init__(message)
        self.done = done


async def _upload_all(uploader, progress, summary, path: Path, camera_id: str, fps: float) -> None:
    from framesift.bus.base import BusUnavailableError

    try:
        await _upload_each(uploader, progress, summary, path, camera_id, fps)
    except (PermissionError, ConnectionError, BusUnavailableError) as exc:
        done = sum(summary.counts.values())
        if done:
            raise _Interrupted(str(exc), done) from exc
        raise


async def _upload_each(uploader, progress, summary, path: Path, camera_id: str, fps: float) -> None:
    from tqdm import tqdm

    from framesift.services.ingest.sources import estimate_count, iter_source

    with tqdm(total=estimate_count(path, fps), unit="frame", file=sys.stderr, disable=None) as bar:
        for item in iter_source(path, fps):
            bar.update(1)
            if item.ref in progress.done:
                summary.counts["skipped"] += 1
                continue
            outcome = await uploader.upload(camera_id, item)
            progress.mark(item.ref, outcome)
            summary.counts[outcome.kind] += 1
            if outcome.frame_id:
                summary.frame_ids.add(outcome.frame_id)
            if outcome.error:
                summary.refused[outcome.error] += 1
            else:
                summary.bytes_sent += len(item.data)


@main.group()
def curate() -> None:
    """Act on the curation of a running framesift (the curate service)."""


@curate.command("flush")
@click.option("--grpc", "target", default=None, help="The curate service (HOST:PORT); default: this machine's.")
def curate_flush(target: str | None) -> None:
    """Choose from every open window now: frames waiting for their window are decided at once."""
    import grpc

    from framesift.app.process import operator_token
    from framesift.v1 import curation_pb2, curation_pb2_grpc

    settings = _settings()
    target = target or f"127.0.0.1:{settings.grpc_port}"
    metadata = (("authorization", f"Bearer {operator_token(settings)}"),)
    with grpc.insecure_channel(target) as channel:
        stub = curation_pb2_grpc.CurationServiceStub(channel)
        try:
            answer = stub.FlushWindows(curation_pb2.FlushWindowsRequest(), metadata=metadata, timeout=120)
        except grpc.RpcError as exc:
            if exc.code() is grpc.StatusCode.UNAVAILABLE:
                raise click.ClickException(f"no framesift answers at {target}: start it with framesift up") from exc
            raise click.ClickException(f"{exc.code().name}: {exc.details()}") from exc
    if not answer.windows:
        click.echo("no open windows: nothing was waiting")
        return
    windows = ", ".join(answer.windows)
    click.echo(f"chose from {len(answer.windows)} windows ({windows}): {answer.frames_decided} frames decided")


@main.command()
@click.argument("out", type=click.Path(dir_okay=False, writable=True, path_type=Path))
@click.option("--second", default=1.0, show_default=True, type=click.FloatRange(0), help="Where in the clip.")
def sample(out: Path, second: float) -> None:
    """Write a real street frame (JPEG, from the footage the demo uses) to OUT, to try uploads with."""
    from framesift.app.demo import footage_folder
    from framesift.services.ingest.sources import iter_video

    try:
        clip = footage_folder() / "bikes.mp4"
    except FileNotFoundError as exc:
        raise click.ClickException(str(exc)) from exc
    frames = iter_video(clip, fps=1.0, ref_prefix="sample")
    chosen = next((item for item in frames if item.ref.endswith(f"#{int(second * 1000)}")), None)
    if chosen is None:
        raise click.ClickException(f"the clip is shorter than {second:g} s")
    out.write_bytes(chosen.data)
    click.echo(f"{out}: {len(chosen.data)} bytes, a frame of {clip.name} at {second:g} s")


@main.group()
def dlq() -> None:
    """Dead letters: what a service could not handle, and why; replay them once the cause is fixed."""


def _dlq_topic(topic: str) -> str:
    from framesift.contracts.topics import DLQ_SUFFIX, TOPICS

    name = topic.removesuffix(DLQ_SUFFIX)
    if name not in TOPICS:
        raise click.BadParameter(f"unknown topic {topic!r}; known: {', '.join(TOPICS)}", param_hint="TOPIC")
    return name


def _with_bus(call):
    """Run `call(bus)` on this machine's bus (the embedded data dir's, or Kafka by the settings)."""
    from framesift.app.registry import build_adapters
    from framesift.bus.base import BusUnavailableError

    async def run():
        adapters = build_adapters(_settings(), services=[], client_id="framesift-dlq")
        try:
            await adapters.bus.start()
            return await call(adapters.bus)
        finally:
            await adapters.bus.stop()
            adapters.close()

    try:
        import asyncio

        return asyncio.run(run())
    except BusUnavailableError as exc:
        raise click.ClickException(str(exc)) from exc


@dlq.command("list")
@click.argument("topic")
def dlq_list(topic: str) -> None:
    """The dead letters of TOPIC (frames.ingested, ...): where, which service, why."""
    from rich.console import Console
    from rich.table import Table

    from framesift.bus.dead_letters import dead_letters

    letters = _with_bus(lambda bus: dead_letters(bus, _dlq_topic(topic)))
    if not letters:
        click.echo(f"no dead letters on {_dlq_topic(topic)}.dlq")
        return
    grid = Table(box=None, pad_edge=False, show_edge=False, header_style="", padding=(0, 1, 0, 0))
    for name, width in (("at", 8), ("service", 8), ("tries", 5), ("key", 14)):
        grid.add_column(name, width=width, no_wrap=True, overflow="ellipsis")
    grid.add_column("why", overflow="fold", ratio=1)
    for letter in letters:
        why = letter.error + (" (value cut down: not replayable)" if letter.truncated else "")
        grid.add_row(letter.where, letter.service, letter.attempts, letter.record.key or "", why)
    Console(width=100, force_terminal=False, color_system=None, highlight=False).print(grid)
    click.echo(f"{len(letters)} dead letters; framesift dlq show {_dlq_topic(topic)} AT for one")


@dlq.command("show")
@click.argument("topic")
@click.argument("at")
def dlq_show(topic: str, at: str) -> None:
    """One dead letter (AT is partition:offset, as dlq list prints it): its headers and value."""
    import json

    from framesift.bus.dead_letters import dead_letters
    from framesift.contracts.codec import MalformedMessageError, decode
    from framesift.contracts.topics import TOPICS
    from framesift.platform.jsonform import as_json

    name = _dlq_topic(topic)
    found = [letter for letter in _with_bus(lambda bus: dead_letters(bus, name)) if letter.where == at]
    if not found:
        raise click.ClickException(f"no dead letter at {at} on {name}.dlq (framesift dlq list {name})")
    letter = found[0]
    click.echo(f"at         {letter.where} of {name}.dlq (from {letter.original})")
    click.echo(f"service    {letter.service}, after {letter.attempts} attempts")
    click.echo(f"why        {letter.error}")
    click.echo(f"key        {letter.record.key}")
    try:
        event = decode(TOPICS[name], letter.record.value, letter.original_headers())
        click.echo("value      " + json.dumps(as_json(event)))
    except MalformedMessageError:
        value = letter.record.value
        click.echo(f"value      {len(value)} bytes that are no {name} event: {value[:48].hex()}...")


@dlq.command("replay")
@click.argument("topic")
@click.argument("at", nargs=-1)
def dlq_replay(topic: str, at: tuple[str, ...]) -> None:
    """Republish dead letters of TOPIC on it (all, or those AT partition:offset), once fixed."""
    from framesift.bus.dead_letters import replay

    name = _dlq_topic(topic)
    replayed, refused = _with_bus(lambda bus: replay(bus, name, set(at) or None))
    click.echo(f"replayed {len(replayed)} dead letters on {name}" + (f": {', '.join(replayed)}" if replayed else ""))
    if refused:
        click.echo(f"not replayed, their value was cut down to fit: {', '.join(refused)}")


@main.command()
def topics() -> None:
    """The topics, their keys and schemas (and each one's dead-letter topic)."""
    from framesift.contracts.topics import TOPICS

    for topic in TOPICS.values():
        click.echo(
            f"{topic.name:<18} key={topic.key_field:<14} {topic.message_type.DESCRIPTOR.full_name}  dlq={topic.dlq}"
        )


@main.command()
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="One JSON object per file on stdout, in input order.")
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1), help="Processes decoding files.")
def scan(path: Path, as_json: bool, workers: int) -> None:
    """Run the quality checks over a folder (recursive) without any server.

    Thresholds come from the same FRAMESIFT_QUALITY__* settings as the service.
    """
    import json

    from tqdm import tqdm

    from framesift.services.quality.scan import ScanSummary, image_files
    from framesift.services.quality.scan import scan as scan_files

    settings = _settings()
    summary = ScanSummary()
    files = image_files(path, summary)
    items = scan_files(files, settings.quality, workers=workers, summary=summary)
    if not files:
        raise click.ClickException(f"no images under {path} (suffixes: .jpg, .png, .webp, ...)")
    if as_json:
        for item in items:
            click.echo(json.dumps(item.as_json(), sort_keys=False))
        _print_scan_summary(summary, err=True)
        return
    rejected = []
    # A progress bar only on a terminal (disable=None): logs and pipes get the lines below alone.
    for item in tqdm(items, total=len(files), unit="img", file=sys.stderr, disable=None):
        if item.status == "rejected":
            rejected.append(item)
    for item in rejected:
        why = ", ".join(item.reasons) + (f" (duplicate of {item.duplicate_of})" if item.duplicate_of else "")
        click.echo(f"rejected   {item.path}: {why}")
    _print_scan_summary(summary, err=False)


def _print_scan_summary(summary, *, err: bool) -> None:
    lines = [
        f"scanned    {summary.files} images in {summary.seconds:.1f} s ({summary.images_per_s:.1f} images/s)",
        f"kept       {summary.kept}",
        f"rejected   {summary.rejected} ({summary.reduction_pct:.1f} % reduction)",
    ]
    for reason, count in sorted(summary.reasons.items(), key=lambda item: (-item[1], item[0])):
        lines.append(f"  {reason:<17} {count}")
    if summary.skipped:
        lines.append(f"skipped    {summary.skipped} files without an image suffix")
    for line in lines:
        click.echo(line, err=err)


def _register_groups() -> None:
    from framesift.app.cli_demo import demo, query
    from framesift.app.cli_evaluate import evaluate
    from framesift.app.cli_label import label
    from framesift.app.cli_models import models

    main.add_command(label)
    main.add_command(evaluate)
    main.add_command(models)
    main.add_command(demo)
    main.add_command(query)


_register_groups()
