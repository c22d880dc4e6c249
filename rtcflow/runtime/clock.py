"""The output clock: ticks at the flow's fps on a drift-free monotonic schedule."""

from __future__ import annotations

import asyncio
import time
from fractions import Fraction

from rtcflow.media.timing import frame_rate


def frame_time_base(fps: float) -> Fraction:
    """The time base in which one output frame lasts exactly one unit."""
    return 1 / frame_rate(fps)


class OutputClock:
    """Yields tick indices ``0, 1, 2, ...`` at ``fps``.

    Tick ``n`` is due at ``start + n / fps``, so timing never drifts however long the flow
    runs. A consumer that falls more than ``max_lag`` ticks behind skips ahead (the tick
    index still increases monotonically; the skipped ticks are counted).
    """

    def __init__(self, fps: float, *, max_lag: int = 2) -> None:
        self.period = float(frame_time_base(fps))
        self.max_lag = max_lag
        self.skipped = 0
        self._start: float | None = None
        self._next = 0

    def due(self, tick: int) -> float:
        """Monotonic time at which ``tick`` is due."""
        assert self._start is not None
        return self._start + tick * self.period

    async def ticks(self):
        """Async iterator of tick indices, each yielded when it is due."""
        self._start = time.monotonic()
        while True:
            now = time.monotonic()
            delay = self.due(self._next) - now
            if delay > 0:
                await asyncio.sleep(delay)
            else:
                behind = int(-delay / self.period)
                if behind > self.max_lag:
                    self.skipped += behind
                    self._next += behind
            yield self._next
            self._next += 1
