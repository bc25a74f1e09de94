"""Reading the settings and running services in this process, for the CLI's commands."""

from __future__ import annotations

import asyncio
import os
import secrets
import sys

import click
from pydantic import SecretStr

from framesift.runtime.logs import configure_logging

from .registry import build_adapters, build_runner
from .settings import Settings, load_settings


def local_engine(service: str):
    """The engine of the database the settings name, with `service`'s tables (what a CLI command
    that works on that database by hand needs); returns (engine, settings)."""
    from framesift.app.registry import create_schema
    from framesift.sql.engine import make_engine

    settings = load_settings()
    if settings.database_url is None:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.sql_url)
    create_schema(engine, [service])
    return engine, settings


def operator_token(settings: Settings) -> str:
    """FRAMESIFT_OPERATOR_TOKEN, else the data dir's own token (made on first use, readable only by
    this user): what `framesift curate flush` presents to the services of this machine."""
    if settings.operator_token is not None:
        return settings.operator_token.get_secret_value()
    path = settings.data_dir / "operator-token"
    if not path.exists():
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(secrets.token_urlsafe(32))
    return path.read_text().strip()


async def serve(settings: Settings, names: list[str]) -> None:
    settings = settings.model_copy(update={"operator_token": SecretStr(operator_token(settings))})
    adapters = build_adapters(settings, services=names, client_id=f"framesift-{'-'.join(names)}")
    try:
        runner = await build_runner(adapters, names)
        await runner.run()
    finally:
        adapters.close()


def run_services(names: list[str], *, live: bool = False, quiet: bool = False) -> None:
    """`live`: the embedded default's windows for live frames (framesift up); `quiet`: warnings
    only, as plain lines (a person's terminal, as in the demo), not the JSON log a service writes."""
    settings = load_settings()
    if live:
        settings = settings.with_live_windows()
    if quiet:
        configure_logging("WARNING", json_lines=False)
    else:
        configure_logging(settings.log_level, json_lines=settings.log_json)
    try:
        asyncio.run(serve(settings, names))
    except Exception as exc:
        click.echo(f"framesift: {exc}", err=True)
        sys.exit(1)
