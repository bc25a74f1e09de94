"""Which services exist, and how to compose them into one process."""

from __future__ import annotations

from collections.abc import Callable

from framesift.adapters import Adapters
from framesift.migrations import Migration
from framesift.runner import ServiceRunner, ServiceUnit
from framesift.services.curate import bootstrap as curate_bootstrap
from framesift.services.curate.state import migrations as curate_migrations
from framesift.services.embed import bootstrap as embed_bootstrap
from framesift.services.ingest import bootstrap as ingest_bootstrap
from framesift.services.ingest import migrations as ingest_migrations
from framesift.services.quality import bootstrap as quality_bootstrap
from framesift.services.quality import migrations as quality_migrations
from framesift.topics import all_topic_names

# The pipeline's services in order; a service is listed once it exists.
SERVICES: dict[str, Callable[[Adapters], ServiceUnit]] = {
    ingest_bootstrap.NAME: ingest_bootstrap.build,
    quality_bootstrap.NAME: quality_bootstrap.build,
    embed_bootstrap.NAME: embed_bootstrap.build,
    curate_bootstrap.NAME: curate_bootstrap.build,
}


# Every component's versioned migrations, applied in this order (framesift.db.create_schema).
SCHEMAS: dict[str, list[Migration]] = {
    ingest_migrations.COMPONENT: ingest_migrations.MIGRATIONS,
    quality_migrations.COMPONENT: quality_migrations.MIGRATIONS,
    curate_migrations.COMPONENT: curate_migrations.MIGRATIONS,
}


def unknown_service(name: str) -> str:
    return f"unknown service {name!r}; known: {', '.join(SERVICES)}"


async def build_runner(adapters: Adapters, names: list[str]) -> ServiceRunner:
    for name in names:
        if name not in SERVICES:
            raise ValueError(unknown_service(name))
    await adapters.start()
    units = [SERVICES[name](adapters) for name in names]
    return ServiceRunner(adapters.settings, adapters.bus, units, topics=all_topic_names())
