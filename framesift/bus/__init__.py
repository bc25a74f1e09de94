"""Message bus: one small interface; in-process (memory), durable in-process (SQLite) and Kafka."""

from framesift.bus.base import Bus, BusUnavailableError, Consumer, Record, RecordHandler
from framesift.bus.delivery import RetryableError, RetryPolicy

__all__ = [
    "Bus",
    "BusUnavailableError",
    "Consumer",
    "Record",
    "RecordHandler",
    "RetryPolicy",
    "RetryableError",
]
