"""The platform's settings: what every service shares (process, bus, store, SQL, inference, vectors).

Read from the environment (FRAMESIFT_*) once at start-up; handlers never read the environment.
Each service declares its own section (services/<name>/settings.py, FRAMESIFT_<NAME>__*); the app
composes them with these into the one Settings object a process runs with (framesift.app.settings).
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from framesift.contracts.splits import SplitSettings


class BusKind(StrEnum):
    INPROCESS = "inprocess"  # the embedded default: in this process, its log in a SQLite file
    MEMORY = "memory"  # in this process, nothing kept across a restart (tests, throwaway runs)
    KAFKA = "kafka"


class StoreKind(StrEnum):
    LOCAL = "local"
    S3 = "s3"


class EmbedBackendKind(StrEnum):
    # Weights-free image descriptor: similarity without a model; no detections, no text search.
    DESCRIPTOR = "descriptor"
    # The model repository's ONNX files run in-process (onnxruntime); needs FRAMESIFT_MODEL_REPOSITORY.
    LOCAL = "local"
    # The model repository served by Triton (FRAMESIFT_TRITON_URL); the production path.
    TRITON = "triton"


class PlatformSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="FRAMESIFT_", env_nested_delimiter="__", extra="ignore", populate_by_name=True
    )

    data_dir: Path = Path(".framesift")
    http_host: str = "127.0.0.1"
    http_port: int = 8080
    grpc_port: int = 50051
    log_level: str = "INFO"
    log_json: bool = True
    # How often readiness is re-checked for the gRPC health service (/readyz checks on each request).
    health_interval_s: Annotated[float, Field(gt=0)] = 1.0
    # Stopping: on SIGTERM, in-flight work gets this long to finish and commit; after a fatal
    # failure (a consumer that died) the process leaves within fatal_exit_s, failing health at once.
    shutdown_timeout_s: Annotated[float, Field(gt=0)] = 30.0
    fatal_exit_s: Annotated[float, Field(gt=0)] = 5.0
    # How often each process measures the dead-letter topics of what it consumes (framesift_dlq_depth).
    dlq_depth_interval_s: Annotated[float, Field(gt=0)] = 30.0

    # Message bus.
    bus: BusKind = BusKind.INPROCESS
    # KAFKA_BOOTSTRAP_SERVERS is honoured too: it is what Kafka tooling and testcontainers set.
    kafka_bootstrap_servers: str = Field(
        default="127.0.0.1:9092",
        validation_alias=AliasChoices("FRAMESIFT_KAFKA_BOOTSTRAP_SERVERS", "KAFKA_BOOTSTRAP_SERVERS"),
    )
    # Idempotent producers need broker support; on for real Kafka, off for brokers without it.
    kafka_idempotence: bool = True
    kafka_topic_partitions: Annotated[int, Field(ge=1)] = 6
    kafka_replication_factor: Annotated[int, Field(ge=1)] = 1
    kafka_request_timeout_ms: Annotated[int, Field(ge=100)] = 10_000
    # Size limits: the largest request the producer sends (Kafka's default message.max.bytes is
    # about 1 MB), the most a consumer fetches from a partition at once (at least one record is
    # always returned), and the part of a record's value a dead letter keeps (the rest is cut and
    # the header framesift-truncated says how long it was), so a dead letter always fits.
    kafka_max_request_bytes: Annotated[int, Field(ge=1024)] = 1_048_576
    kafka_max_partition_fetch_bytes: Annotated[int, Field(ge=1024)] = 1_048_576
    dlq_max_value_bytes: Annotated[int, Field(ge=0)] = 512 * 1024
    kafka_security_protocol: str = "PLAINTEXT"
    kafka_sasl_mechanism: str | None = None
    kafka_sasl_username: str | None = None
    kafka_sasl_password: SecretStr | None = None

    # The operator's token for write actions on the services (FlushWindows). On the embedded default
    # the app makes one in the data dir (operator-token, mode 0600) when none is set here.
    operator_token: SecretStr | None = None
    # Production: with a read token, every HTTP read (UI pages, read APIs, images) needs it, as a
    # bearer token or a browser's sign-in at /ui/sign-in (framesift.platform.read_access). Unset:
    # reads are open, as on the embedded default.
    read_token: SecretStr | None = None

    # Train / val / evaluation shares of labelled frames: label exports by them and evaluate keeps
    # the evaluation split, so both read the one setting (FRAMESIFT_SPLITS__EVALUATION=0.1).
    splits: SplitSettings = SplitSettings()

    # Delivery: attempts per message before it goes to <topic>.dlq, and the backoff between them.
    max_attempts: Annotated[int, Field(ge=1)] = 3
    retry_backoff_s: Annotated[float, Field(ge=0)] = 0.2
    retry_backoff_max_s: Annotated[float, Field(ge=0)] = 5.0
    # Publishing retries before a request fails loudly.
    publish_attempts: Annotated[int, Field(ge=1)] = 3
    # Largest gRPC message a process accepts (a service may ask for more: ingest's uploads).
    grpc_max_message_bytes: Annotated[int, Field(ge=1024)] = 4 * 1024 * 1024

    # Object store.
    store: StoreKind = StoreKind.LOCAL
    s3_endpoint: str = "127.0.0.1:9000"
    s3_bucket: str = "framesift"
    s3_secure: bool = True
    s3_region: str | None = None
    s3_access_key: SecretStr | None = None
    s3_secret_key: SecretStr | None = None

    # SQL: SQLite under data_dir unless a URL is given (postgresql+psycopg://... in production).
    database_url: str | None = None

    # Inference (embed computes vectors with it; curate embeds query images and texts).
    embed_backend: EmbedBackendKind = EmbedBackendKind.DESCRIPTOR
    # A framesift model repository (Triton layout, see framesift/inference/models/repository.py).
    model_repository: Path | None = None
    triton_url: str = "127.0.0.1:8001"  # gRPC
    # Qdrant: a server by URL (QDRANT_URL is honoured too), else local mode under data_dir.
    qdrant_url: str | None = Field(
        default=None, validation_alias=AliasChoices("FRAMESIFT_QDRANT_URL", "QDRANT_URL", "qdrant_url")
    )
    qdrant_api_key: SecretStr | None = None
    qdrant_collection: str = Field(default="frames", pattern=r"^[A-Za-z0-9_-]{1,64}$")

    @field_validator("data_dir")
    @classmethod
    def _expand(cls, value: Path) -> Path:
        return value.expanduser()

    @property
    def sql_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'framesift.db'}"

    @property
    def qdrant_path(self) -> Path:
        return self.data_dir / "qdrant"

    @property
    def objects_dir(self) -> Path:
        return self.data_dir / "objects"
