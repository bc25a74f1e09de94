"""One typed settings object, read from the environment (FRAMESIFT_*) once at start-up.

Handlers never read the environment: entrypoints build a Settings and pass it down.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

from pydantic import AliasChoices, BaseModel, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class BusKind(StrEnum):
    INPROCESS = "inprocess"  # the embedded default: in this process, its log in a SQLite file
    MEMORY = "memory"  # in this process, nothing kept across a restart (tests, throwaway runs)
    KAFKA = "kafka"


class StoreKind(StrEnum):
    LOCAL = "local"
    S3 = "s3"


class DedupScope(StrEnum):
    CAMERA = "camera"  # a frame duplicates only earlier frames of its own camera
    GLOBAL = "global"  # ... or of any camera


class EmbedBackendKind(StrEnum):
    # Weights-free image descriptor: similarity without a model; no detections, no text search.
    DESCRIPTOR = "descriptor"
    # The model repository's ONNX files run in-process (onnxruntime); needs FRAMESIFT_MODEL_REPOSITORY.
    LOCAL = "local"
    # The model repository served by Triton (FRAMESIFT_TRITON_URL); the production path.
    TRITON = "triton"


class QualityThresholds(BaseModel):
    """Where each quality gate rejects; a frame exactly at a threshold passes.

    The metrics are defined in framesift.services.quality.measures; the defaults were set from
    what each metric means (see docs in README) and checked on photos and video frames from
    several sources. Override one with e.g. FRAMESIFT_QUALITY__BLURRY_EDGE_PX=2.5.
    """

    # odd_size: the short side is below this, or long/short side exceeds max_aspect_ratio.
    min_side_px: Annotated[int, Field(ge=1)] = 128
    max_aspect_ratio: Annotated[float, Field(ge=1)] = 4.0
    # dark: even the brightest 1 % of the frame is below a quarter of full scale.
    dark_luma_p99: Annotated[float, Field(ge=0, le=1)] = 0.25
    # overexposed: the median pixel is near white, or over a third of the frame is burnt out.
    overexposed_luma_p50: Annotated[float, Field(ge=0, le=1)] = 0.80
    overexposed_clipped_fraction: Annotated[float, Field(ge=0, le=1)] = 0.35
    # low_information: the denoised frame spans less than 5 % of the luma range (uniform).
    low_information_contrast: Annotated[float, Field(ge=0, le=1)] = 0.05
    # blurry: the sharpest edges are spread like a Gaussian blur of sigma > 2 px at the 480 px
    # working size (0.4 % of the frame's long side; a sharp edge reads 0.8-1 px).
    blurry_edge_px: Annotated[float, Field(gt=0)] = 2.0
    # near_duplicate: pHash within this many of 64 bits of an earlier kept frame.
    near_duplicate_radius: Annotated[int, Field(ge=0, le=16)] = 8


class PriorityWeights(BaseModel):
    """Priority = weighted mean of its parts (each in [0, 1]); FRAMESIFT_CURATE__WEIGHTS__NOVELTY=2."""

    uncertainty: Annotated[float, Field(ge=0)] = 1.0
    rarity: Annotated[float, Field(ge=0)] = 1.0
    novelty: Annotated[float, Field(ge=0)] = 1.0
    quality: Annotated[float, Field(ge=0)] = 0.5


class CurateSettings(BaseModel):
    """Priority and selection under a labelling budget (FRAMESIFT_CURATE__*)."""

    weights: PriorityWeights = PriorityWeights()
    # The consumer group: a new name rebuilds the read model from the topics' beginning (with an
    # empty database), which yields the same state.
    group: str = Field(default="curate", pattern=r"^[A-Za-z0-9._-]{1,64}$")
    # Selection windows: frames are grouped by capture time into windows this long; a window is
    # chosen from once frames captured `lateness_s` after its end arrive (or on a flush).
    window_s: Annotated[float, Field(gt=0)] = 3600.0
    lateness_s: Annotated[float, Field(ge=0)] = 300.0
    # Cameras that go quiet (night, an outage) send no later frames to close their last window:
    # a window whose end + lateness has passed on the wall clock, and that no frame joined for
    # this long, is chosen from anyway. 0 turns it off (replays of old footage rely on the
    # watermark alone).
    idle_close_s: Annotated[float, Field(ge=0)] = 900.0
    # Labelling budget: frames chosen per window, at most this many per UTC day, and at most this
    # share of a window's budget for one camera.
    budget_per_window: Annotated[int, Field(ge=0)] = 50
    budget_per_day: Annotated[int, Field(ge=0)] = 1000
    camera_share: Annotated[float, Field(gt=0, le=1)] = 0.5
    # Diversity: a candidate's priority counts d / (d + diversity_radius), d its cosine distance
    # to everything chosen (half at the radius; near copies ~0); within `min_distance` of a
    # chosen frame it is never chosen in the same window.
    diversity_radius: Annotated[float, Field(gt=0, le=2)] = 0.15
    min_distance: Annotated[float, Field(ge=0, le=2)] = 0.02
    # The detector's decision threshold the uncertainty part is measured around.
    score_threshold: Annotated[float, Field(gt=0, lt=1)] = 0.5
    # How many selected or labelled neighbours novelty looks at (and Explain shows).
    neighbours: Annotated[int, Field(ge=1, le=50)] = 3
    # What labelling one frame costs, for GetStats' "labelling cost avoided".
    cost_per_frame: Annotated[float, Field(ge=0)] = 0.05


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="FRAMESIFT_", env_nested_delimiter="__", extra="ignore", populate_by_name=True
    )

    data_dir: Path = Path(".framesift")
    http_host: str = "127.0.0.1"
    http_port: int = 8080
    grpc_port: int = 50051
    log_level: str = "INFO"
    log_json: bool = True

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
    kafka_security_protocol: str = "PLAINTEXT"
    kafka_sasl_mechanism: str | None = None
    kafka_sasl_username: str | None = None
    kafka_sasl_password: SecretStr | None = None

    # Delivery: attempts per message before it goes to <topic>.dlq, and the backoff between them.
    max_attempts: Annotated[int, Field(ge=1)] = 3
    retry_backoff_s: Annotated[float, Field(ge=0)] = 0.2
    retry_backoff_max_s: Annotated[float, Field(ge=0)] = 5.0
    # Publishing retries before a request fails loudly.
    publish_attempts: Annotated[int, Field(ge=1)] = 3

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

    # Ingest.
    max_upload_bytes: Annotated[int, Field(ge=1)] = 20 * 1024 * 1024
    # Same bytes from the same camera within this window is a retry, not a new frame.
    dedup_window_s: Annotated[float, Field(ge=0)] = 24 * 3600.0
    # A capture time further ahead of this server's clock is refused: one camera with a wrong
    # clock would otherwise drag curate's event-time windows (and everyone's frames) into its future.
    max_clock_ahead_s: Annotated[float, Field(ge=0)] = 300.0

    # Quality.
    quality: QualityThresholds = QualityThresholds()
    dedup_scope: DedupScope = DedupScope.CAMERA
    # Near-duplicate hashes kept in memory per process; the oldest are forgotten beyond this
    # (exact duplicates are found in SQL and are not bounded). About 32 bytes per hash, three
    # hashes per kept frame (whole frame and two central crops).
    dedup_index_max_hashes: Annotated[int, Field(ge=1000)] = 2_000_000
    # Threads decoding and measuring frames (Pillow and numpy release the GIL).
    quality_workers: Annotated[int, Field(ge=1)] = 2

    # Embed.
    embed_backend: EmbedBackendKind = EmbedBackendKind.DESCRIPTOR
    embed_workers: Annotated[int, Field(ge=1)] = 2
    # A framesift model repository (Triton layout, see services/embed/models/repository.py).
    model_repository: Path | None = None
    triton_url: str = "127.0.0.1:8001"  # gRPC
    # Consumers of frames.checked in one embed process; their frames are batched together.
    embed_concurrency: Annotated[int, Field(ge=1)] = 4
    embed_max_batch: Annotated[int, Field(ge=1)] = 8
    embed_max_wait_s: Annotated[float, Field(ge=0)] = 0.01
    # Qdrant: a server by URL (QDRANT_URL is honoured too), else local mode under data_dir.
    qdrant_url: str | None = Field(
        default=None, validation_alias=AliasChoices("FRAMESIFT_QDRANT_URL", "QDRANT_URL", "qdrant_url")
    )
    qdrant_api_key: SecretStr | None = None
    qdrant_collection: str = Field(default="frames", pattern=r"^[A-Za-z0-9_-]{1,64}$")

    # Curate.
    curate: CurateSettings = CurateSettings()

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
