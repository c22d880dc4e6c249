"""Retrying, shared by every client and runner: backoff delays and ``Retry-After``.

- ``Backoff``: the unbounded, stateful delay sequence of something that reconnects
  until stopped (a sink, a WHEP source).
- ``RetryPolicy``: a bounded sequence for one request that gives up after a number of
  attempts (trickle segments, Daydream API calls).
- ``parse_retry_after``: the server's own wait, which both honour.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from pydantic import BaseModel, ConfigDict, Field


class Backoff:
    """Delays ``initial, initial*factor, ...`` capped at ``maximum``, with +/-``jitter``.

    ``delay(retry_after)`` honours a server's ``Retry-After`` when it is longer than the
    computed delay.
    """

    def __init__(
        self,
        initial: float = 0.25,
        maximum: float = 10.0,
        factor: float = 2.0,
        jitter: float = 0.1,
    ) -> None:
        self.initial = initial
        self.maximum = maximum
        self.factor = factor
        self.jitter = jitter
        self.attempts = 0

    def reset(self) -> None:
        self.attempts = 0

    def delay(self, retry_after: float | None = None) -> float:
        """The next delay in seconds (and count one more attempt)."""
        base = min(self.maximum, self.initial * self.factor**self.attempts)
        self.attempts += 1
        base *= 1 + random.uniform(-self.jitter, self.jitter)
        if retry_after is not None:
            base = max(base, retry_after)
        return base


class RetryPolicy(BaseModel):
    """How long a client keeps retrying a failing request before it gives up.

    ``max_attempts`` counts every try, the first included. Retry ``n`` waits
    ``initial_delay * multiplier**n`` seconds, at most ``max_delay``, jittered down by up
    to ``jitter`` of it so that clients do not retry in step. A server's ``Retry-After``
    replaces the delay; one longer than ``max_retry_after`` means give up now.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    initial_delay: float = Field(0.05, gt=0)
    max_delay: float = Field(2.0, gt=0)
    multiplier: float = Field(2.0, ge=1)
    max_attempts: int = Field(12, ge=1)
    jitter: float = Field(0.0, ge=0, le=1)
    max_retry_after: float | None = Field(None, ge=0)

    def delay(self, retry: int) -> float:
        """Seconds to wait before retry number ``retry`` (0 for the first)."""
        delay = min(self.max_delay, self.initial_delay * self.multiplier**retry)
        return random.uniform(delay * (1 - self.jitter), delay)

    def delays(self) -> Iterator[float]:
        """The wait before each retry; exhausted after ``max_attempts - 1`` retries."""
        return (self.delay(retry) for retry in range(self.max_attempts - 1))


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds from a ``Retry-After`` header: delay-seconds or an HTTP-date.

    RFC 9110 section 10.2.3. ``None`` when absent or unreadable; never negative.
    """
    if value is None:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:  # an HTTP-date is always GMT
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    if seconds != seconds:  # NaN
        return None
    return max(0.0, seconds)
