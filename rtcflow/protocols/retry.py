"""Exponential backoff shared by every reconnecting client and runner."""

from __future__ import annotations

import random


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
