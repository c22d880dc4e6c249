"""Per-flow counters: frames in/out/dropped/repeated, fps, latency percentiles."""

from __future__ import annotations

import time
from collections import deque

from pydantic import BaseModel


class FlowCounters(BaseModel):
    """A snapshot of a flow's counters (what status and the progress view show)."""

    frames_in: int = 0
    frames_processed: int = 0
    frames_out: int = 0
    frames_dropped: int = 0
    frames_repeated: int = 0
    step_errors: int = 0
    fps: float = 0.0
    latency_p50_ms: float | None = None
    latency_p95_ms: float | None = None
    queue_depths: dict[str, int] = {}


class RateMeter:
    """Events per second over a sliding window."""

    def __init__(self, window: float = 2.0) -> None:
        self.window = window
        self._stamps: deque[float] = deque()

    def mark(self, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        self._stamps.append(now)
        while self._stamps and now - self._stamps[0] > self.window:
            self._stamps.popleft()

    def rate(self, now: float | None = None) -> float:
        now = time.monotonic() if now is None else now
        while self._stamps and now - self._stamps[0] > self.window:
            self._stamps.popleft()
        if len(self._stamps) < 2:
            return 0.0
        return (len(self._stamps) - 1) / max(self._stamps[-1] - self._stamps[0], 1e-9)


class LatencyWindow:
    """Percentiles over the most recent ``size`` samples (seconds in, milliseconds out)."""

    def __init__(self, size: int = 300) -> None:
        self._samples: deque[float] = deque(maxlen=size)

    def add(self, seconds: float) -> None:
        self._samples.append(seconds)

    def percentile(self, q: float) -> float | None:
        if not self._samples:
            return None
        ordered = sorted(self._samples)
        index = min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))
        return ordered[index] * 1000.0
