"""Bounded retries with exponential backoff for calls to a dependency, on tenacity.

Every adapter that calls a server (bus, object store, inference, the change feed) retries through
`retrying`, so backoff, bounds and the log line are the same everywhere. Delivery of a record
(retries, then the dead-letter topic) is framesift.bus.delivery's loop, not this.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    stop_never,
    wait_exponential,
)

log = logging.getLogger(__name__)

T = TypeVar("T")


def retrying(
    *,
    what: str,
    retry_on: Callable[[BaseException], bool],
    attempts: int | None,
    backoff_s: float,
    backoff_max_s: float = 30.0,
) -> AsyncRetrying:
    """`async for attempt in retrying(...): with attempt: ...` retries what `retry_on` accepts,
    waiting backoff_s, 2 x backoff_s, ... (at most backoff_max_s) between tries; after `attempts`
    tries (None: forever) the last error is raised as it was, for the caller to name the outage."""
    return AsyncRetrying(
        stop=stop_never if attempts is None else stop_after_attempt(attempts),
        wait=wait_exponential(multiplier=backoff_s, max=backoff_max_s),
        retry=retry_if_exception(retry_on),
        reraise=True,
        before_sleep=_logger(what),
    )


async def with_retries(
    call: Callable[[], Awaitable[T]],
    *,
    what: str,
    retry_on: Callable[[BaseException], bool],
    attempts: int | None,
    backoff_s: float,
    backoff_max_s: float = 30.0,
    gave_up: Callable[[BaseException], BaseException],
) -> T:
    """`await call()` under `retrying`; once the tries are spent, raise `gave_up(last error)` (the
    adapter's own "unavailable" error, naming the outage). Errors `retry_on` refuses pass as they are."""
    try:
        async for attempt in retrying(
            what=what, retry_on=retry_on, attempts=attempts, backoff_s=backoff_s, backoff_max_s=backoff_max_s
        ):
            with attempt:
                return await call()
    except Exception as exc:
        if retry_on(exc):
            raise gave_up(exc) from exc
        raise
    raise AssertionError("unreachable: tenacity returns or raises")


def of_type(*types: type[BaseException], but: tuple[type[BaseException], ...] = ()) -> Callable[[BaseException], bool]:
    """Retry these exception types, except the subclasses named in `but` (an answer, not an outage)."""
    return lambda exc: isinstance(exc, types) and not isinstance(exc, but)


def _logger(what: str) -> Callable[[RetryCallState], None]:
    def before_sleep(state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome else None
        log.warning(
            "dependency unavailable, retrying",
            extra={
                "fields": {
                    "what": what,
                    "attempt": state.attempt_number,
                    "in_s": round(state.upcoming_sleep, 3),
                    "error": f"{type(error).__name__}: {error}" if error else None,
                }
            },
        )

    return before_sleep
