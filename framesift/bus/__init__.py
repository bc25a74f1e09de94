"""Message bus: one small interface, an in-process and a Kafka implementation."""

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
