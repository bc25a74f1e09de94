"""A process creates and migrates only the tables of the services it runs (SQLite and PostgreSQL)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from framesift.app.registry import build_adapters, schemas_of
from tests.support.curation import fresh_postgres


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path, postgres_url):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'schemas.db'}"
    else:
        with fresh_postgres(postgres_url) as url:
            yield url


def tables(url: str) -> set[str]:
    engine = sa.create_engine(url)
    try:
        return set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()


async def test_each_service_process_has_only_its_own_tables(embedded_settings, database_url) -> None:
    settings = embedded_settings.model_copy(update={"database_url": database_url})
    expected = {
        "quality": {"schema_versions", "quality_frames", "quality_source_sizes"},
        "embed": set(),  # embed keeps no SQL state: vectors are in Qdrant
        "curate": {"schema_versions", "curated_frames", "selection_windows", "curate_clock"},
        "label": {
            "schema_versions",
            "label_ontology_versions",
            "label_tasks",
            "label_task_skips",
            "label_reviews",
            "labellers",
            "label_datasets",
            "label_studio_projects",
            "label_studio_links",
            "label_studio_inbox",
        },
        "evaluate": {
            "schema_versions",
            "eval_truth",
            "eval_predictions",
            "eval_selections",
            "eval_runs",
            "eval_flags",
            "eval_outcomes",
        },
    }
    seen: set[str] = set()
    for service, own in expected.items():
        adapters = build_adapters(settings, services=[service])
        await adapters.start()
        adapters.close()
        seen |= own
        assert tables(database_url) == seen, service  # this process added its own tables, no other's
    ingest = build_adapters(settings, services=["ingest"])
    await ingest.start()
    ingest.close()
    assert tables(database_url) - seen == {"cameras", "upload_ledger"}


def test_the_registry_knows_every_service_with_tables() -> None:
    assert list(schemas_of()) == ["ingest", "quality", "curate", "label", "evaluate"]
    with pytest.raises(ValueError, match="unknown service 'nope'"):
        schemas_of(["nope"])
