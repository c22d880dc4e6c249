"""When and how long the client waits before trying a request again."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Bounded exponential backoff that honours ``Retry-After``.

    ``attempts`` counts every try, the first included. The n-th retry waits
    ``backoff * 2**n`` seconds (at most ``max_backoff``), jittered down to half of that
    so that clients do not retry in step, unless the answer said ``Retry-After``: then it
    waits exactly that long, and gives up at once if that is over ``max_retry_after``.
    """

    attempts: int = 4
    backoff: float = 0.5
    max_backoff: float = 8.0
    max_retry_after: float = 60.0

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError("attempts must be at least 1")
        if min(self.backoff, self.max_backoff, self.max_retry_after) < 0:
            raise ValueError("delays must not be negative")

    def backoff_delay(self, retry: int) -> float:
        """Seconds to wait before retry number ``retry`` (0 for the first)."""
        delay = min(self.max_backoff, self.backoff * 2**retry)
        return random.uniform(delay / 2, delay)


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
