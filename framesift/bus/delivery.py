"""Handling one record: bounded retries with backoff, then the dead-letter topic.

Written once here and used by every bus implementation, so in-process and Kafka deliveries
behave the same way.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass

from framesift.bus.base import Headers, Publish, Record, RecordHandler, RecordRejectedError
from framesift.contracts.codec import MalformedMessageError
from framesift.contracts.topics import DLQ_SUFFIX
from framesift.runtime import metrics

log = logging.getLogger(__name__)

# Headers added to a dead-lettered record; the original key, value and headers are kept.
DLQ_ERROR = "framesift-error"
DLQ_ERROR_TYPE = "framesift-error-type"
DLQ_SERVICE = "framesift-service"
DLQ_ATTEMPTS = "framesift-attempts"
DLQ_ORIGINAL_TOPIC = "framesift-original-topic"
DLQ_ORIGINAL_PARTITION = "framesift-original-partition"
DLQ_ORIGINAL_OFFSET = "framesift-original-offset"
DLQ_TRUNCATED = "framesift-truncated"  # the original value's length, when the dead letter keeps less


class RetryableError(Exception):
    """A dependency is unavailable (store, database, inference): retry without limit, never DLQ.

    The record stays uncommitted and its partition waits; the service reports not-ready.
    """


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 3
    backoff_s: float = 0.2
    backoff_max_s: float = 5.0
    # A dead letter keeps at most this much of the value, so that it always fits the broker's limit.
    dlq_max_value_bytes: int = 512 * 1024

    def delay(self, attempt: int) -> float:
        """Exponential backoff after the given (1-based) failed attempt."""
        return min(self.backoff_max_s, self.backoff_s * 2 ** (attempt - 1))


def dead_letter_headers(record: Record, error: BaseException, service: str, attempts: int) -> Headers:
    added = (
        (DLQ_ERROR, f"{type(error).__name__}: {error}".encode()[:4096]),
        (DLQ_ERROR_TYPE, type(error).__name__.encode()),
        (DLQ_SERVICE, service.encode()),
        (DLQ_ATTEMPTS, str(attempts).encode()),
        (DLQ_ORIGINAL_TOPIC, record.topic.encode()),
        (DLQ_ORIGINAL_PARTITION, str(record.partition).encode()),
        (DLQ_ORIGINAL_OFFSET, str(record.offset).encode()),
    )
    return record.headers + added


async def deliver(
    record: Record,
    handler: RecordHandler,
    *,
    policy: RetryPolicy,
    service: str,
    publish: Publish,
    stopping: asyncio.Event,
) -> bool:
    """Handle `record` until it succeeds or is dead-lettered; True when it may be committed.

    False means the consumer is stopping while a dependency is still down: leave it uncommitted
    so that it is delivered again. A failure to write the dead letter propagates (fail loudly).
    """
    if record.malformed is not None:
        error = MalformedMessageError(f"record on {record.topic}: {record.malformed}")
        await _dead_letter(record, error, service, 1, publish, policy)
        return True
    attempt = 0
    outage_attempt = 0
    while True:
        attempt += 1
        started = time.perf_counter()
        try:
            await handler(record)
        except MalformedMessageError as exc:
            # Retrying cannot fix bytes that do not parse.
            await _dead_letter(record, exc, service, attempt, publish, policy)
            return True
        except RetryableError as exc:
            outage_attempt += 1
            attempt -= 1
            metrics.HANDLER_ERRORS.labels(service, record.topic, "retryable").inc()
            log.warning(
                "dependency unavailable, will retry",
                extra={"fields": {"topic": record.topic, "offset": record.offset, "error": str(exc)}},
            )
            if await _sleep_or_stop(policy.delay(outage_attempt), stopping):
                return False
            continue
        except Exception as exc:
            metrics.HANDLER_ERRORS.labels(service, record.topic, type(exc).__name__).inc()
            if attempt >= policy.max_attempts:
                await _dead_letter(record, exc, service, attempt, publish, policy)
                return True
            log.warning(
                "handler failed, retrying",
                extra={
                    "fields": {
                        "topic": record.topic,
                        "offset": record.offset,
                        "attempt": attempt,
                        "error": f"{type(exc).__name__}: {exc}",
                    }
                },
            )
            if await _sleep_or_stop(policy.delay(attempt), stopping):
                return False
            continue
        finally:
            metrics.HANDLER_SECONDS.labels(service, record.topic).observe(time.perf_counter() - started)
        metrics.MESSAGES_CONSUMED.labels(service, record.topic, "ok").inc()
        return True


async def _dead_letter(
    record: Record, error: BaseException, service: str, attempts: int, publish: Publish, policy: RetryPolicy
) -> None:
    """Write the dead letter; one the broker refuses even cut down is skipped, its offset logged
    and counted (never a stopped partition). An outage (BusUnavailableError) propagates."""
    dlq_topic = record.topic + DLQ_SUFFIX
    log.error(
        "dead-lettering record",
        extra={
            "fields": {
                "topic": record.topic,
                "partition": record.partition,
                "offset": record.offset,
                "attempts": attempts,
                "error": f"{type(error).__name__}: {error}",
            }
        },
    )
    headers = dead_letter_headers(record, error, service, attempts)
    value = record.value
    if len(value) > policy.dlq_max_value_bytes:
        value, headers = value[: policy.dlq_max_value_bytes], (*headers, (DLQ_TRUNCATED, str(len(value)).encode()))
    try:
        await publish(dlq_topic, record.key or "", value, headers)
    except RecordRejectedError:
        # Even cut down it does not fit (its own headers, say): keep framesift's headers alone.
        ours = (
            *(h for h in headers if h[0].startswith("framesift-")),
            (DLQ_TRUNCATED, str(len(record.value)).encode()),
        )
        try:
            await publish(dlq_topic, record.key or "", b"", ours)
        except RecordRejectedError as exc:
            where = {"topic": record.topic, "partition": record.partition, "offset": record.offset}
            log.error(
                "a record that cannot be dead-lettered is skipped", extra={"fields": {**where, "error": str(exc)}}
            )
            metrics.DEAD_LETTERS_SKIPPED.labels(service, record.topic).inc()
            return
    metrics.MESSAGES_CONSUMED.labels(service, record.topic, "dead_lettered").inc()
    metrics.DEAD_LETTERED.labels(service, record.topic).inc()


async def _sleep_or_stop(seconds: float, stopping: asyncio.Event) -> bool:
    """Back off; True if the consumer was asked to stop meanwhile."""
    try:
        await asyncio.wait_for(stopping.wait(), timeout=seconds)
    except TimeoutError:
        return False
    return True
