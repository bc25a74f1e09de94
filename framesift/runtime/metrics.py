"""Prometheus metrics shared by every service (served on /metrics by the runner)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

MESSAGES_CONSUMED = Counter(
    "framesift_messages_consumed_total", "Records handled, by outcome", ["service", "topic", "outcome"]
)
MESSAGES_PUBLISHED = Counter("framesift_messages_published_total", "Records published", ["topic"])
PUBLISH_FAILURES = Counter("framesift_publish_failures_total", "Publishes that failed after retries", ["topic"])
HANDLER_SECONDS = Histogram("framesift_handler_seconds", "Time spent in a handler per attempt", ["service", "topic"])
HANDLER_ERRORS = Counter("framesift_handler_errors_total", "Handler failures by kind", ["service", "topic", "kind"])
DEAD_LETTERED = Counter("framesift_dead_lettered_total", "Records sent to a dead-letter topic", ["service", "topic"])
DEAD_LETTERS_SKIPPED = Counter(
    "framesift_dead_letters_skipped_total",
    "Records neither handled nor dead-lettered (refused by the broker)",
    ["service", "topic"],
)
DLQ_DEPTH = Gauge("framesift_dlq_depth", "Records on a dead-letter topic", ["topic"])
READY = Gauge("framesift_ready", "1 while the service reports ready", ["service"])
PARTITIONS_REVOKED = Counter(
    "framesift_partitions_revoked_total", "Partitions a consumer handed over in a rebalance", ["group"]
)

FRAMES_INGESTED = Counter("framesift_frames_ingested_total", "Upload outcomes", ["outcome"])
BYTES_INGESTED = Counter("framesift_bytes_ingested_total", "Bytes of newly stored frames")

QUALITY_DECISIONS = Counter("framesift_quality_frames_total", "Quality decisions", ["outcome"])
QUALITY_REASONS = Counter("framesift_quality_reasons_total", "Reject reasons given by quality", ["reason"])
FRAMES_EMBEDDED = Counter("framesift_frames_embedded_total", "Frames embedded, by backend", ["backend"])
