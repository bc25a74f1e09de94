"""Reading the settings and running services in this process, for the CLI's commands."""

from __future__ import annotations

import asyncio
import sys

import click

from framesift.runtime.logs import configure_logging

from .registry import build_adapters, build_runner
from .settings import Settings


def load_settings() -> Settings:
    try:
        return Settings()
    except Exception as exc:  # a bad FRAMESIFT_* value: say which, at boot
        raise click.ClickException(f"invalid settings: {exc}") from exc


async def serve(settings: Settings, names: list[str]) -> None:
    adapters = build_adapters(settings, services=names, client_id=f"framesift-{'-'.join(names)}")
    try:
        runner = await build_runner(adapters, names)
        await runner.run()
    finally:
        adapters.close()


def run_services(names: list[str]) -> None:
    settings = load_settings()
    configure_logging(settings.log_level, json_lines=settings.log_json)
    try:
        asyncio.run(serve(settings, names))
    except Exception as exc:
        click.echo(f"framesift: {exc}", err=True)
        sys.exit(1)
