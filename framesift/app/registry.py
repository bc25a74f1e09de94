"""Which services exist, and how to compose them into one process. The composition root's table.

A service contributes `NAME`, `MIGRATIONS` and `build(adapters, settings_section)` from its
bootstrap; its settings section is the field of the same name on framesift.app.settings.Settings.
A process creates and migrates only the tables of the services it runs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine

from framesift.contracts.topics import all_topic_names
from framesift.platform import adapters as platform_adapters
from framesift.platform.adapters import Adapters
from framesift.platform.embedded import EmbeddedPipeline
from framesift.platform.runner import ServiceRunner, ServiceUnit, retry_policy
from framesift.services.curate import bootstrap as curate
from framesift.services.embed import bootstrap as embed
from framesift.services.evaluate import bootstrap as evaluate
from framesift.services.ingest import bootstrap as ingest
from framesift.services.label import bootstrap as label
from framesift.services.quality import bootstrap as quality
from framesift.sql.engine import migrate_all
from framesift.sql.migrations import Migration

from .settings import Settings


@dataclass(frozen=True)
class Service:
    name: str
    build: Callable[[Adapters, Any], ServiceUnit]
    migrations: Sequence[Migration]

    def unit(self, adapters: Adapters) -> ServiceUnit:
        return self.build(adapters, getattr(adapters.settings, self.name))


# The pipeline's services in order; a service is listed once it exists.
SERVICES: dict[str, Service] = {
    module.NAME: Service(module.NAME, module.build, module.MIGRATIONS)
    for module in (ingest, quality, embed, curate, label, evaluate)
}


def unknown_service(name: str) -> str:
    return f"unknown service {name!r}; known: {', '.join(SERVICES)}"


def schemas_of(names: Iterable[str] | None = None) -> dict[str, Sequence[Migration]]:
    """The migrations of the named services (every service's when None), in pipeline order."""
    wanted = set(SERVICES if names is None else names)
    for name in wanted:
        if name not in SERVICES:
            raise ValueError(unknown_service(name))
    return {name: service.migrations for name, service in SERVICES.items() if name in wanted and service.migrations}


def create_schema(engine: Engine, names: Iterable[str] | None = None) -> None:
    """Bring the named services' tables (every service's when None) to their latest version."""
    migrate_all(engine, schemas_of(names))


def build_adapters(settings: Settings, *, services: Iterable[str] | None = None, **given: Any) -> Adapters:
    """The platform's adapters (framesift.platform.adapters.build_adapters: `bus=`, `store=`,
    `engine=`, `client_id=`) for a process that runs `services` (every service when None)."""
    return platform_adapters.build_adapters(settings, schemas=schemas_of(services), **given)


async def build_runner(adapters: Adapters, names: list[str]) -> ServiceRunner:
    for name in names:
        if name not in SERVICES:
            raise ValueError(unknown_service(name))
    await adapters.start()
    units = [SERVICES[name].unit(adapters) for name in names]
    return ServiceRunner(adapters.settings, adapters.bus, units, topics=all_topic_names())


def downstream_pipeline(adapters: Adapters) -> EmbeddedPipeline:
    """Every service after ingest as consumers in this process, no network servers: for commands
    that feed the in-process bus themselves and wait for every frame to be judged."""
    units = [service.unit(adapters) for name, service in SERVICES.items() if name != ingest.NAME]
    return EmbeddedPipeline(adapters.bus, units, retry_policy(adapters.settings))
