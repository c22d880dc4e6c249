"""Bounded exponential backoff for the trickle client's transient failures."""

from __future__ import annotations

from collections.abc import Iterator

from pydantic import BaseModel, ConfigDict, Field


class RetryPolicy(BaseModel):
    """How long a client keeps retrying a failing request before it gives up.

    Delays grow ``initial_delay * multiplier**n`` up to ``max_delay``; after
    ``max_attempts`` consecutive failures the client raises ``TrickleConnectionError``.
    A success resets the count.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    initial_delay: float = Field(0.05, gt=0)
    max_delay: float = Field(2.0, gt=0)
    multiplier: float = Field(2.0, ge=1)
    max_attempts: int = Field(12, ge=1)

    def delays(self) -> Iterator[float]:
        """The wait before each retry; exhausted after ``max_attempts - 1`` retries."""
        delay = self.initial_delay
        for _ in range(self.max_attempts - 1):
            yield min(delay, self.max_delay)
            delay *= self.multiplier
