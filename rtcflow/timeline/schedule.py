"""Occurrence times of cues and keyframes: sorted sequences searched by index.

Every source of changes is a non-decreasing sequence of stream offsets (seconds, all >= 0)
indexed from 0: an arithmetic series (``at`` is a series of one, ``every`` a longer or
endless one), an explicit list (keyframes), either repeated with a period (``loop``), or
the fire times of an APScheduler 3.x ``CronTrigger`` after the flow's wall-clock origin.
``last_index`` finds the last occurrence at or before a time from an estimate corrected
by comparing actual occurrence times, so what is reported as an occurrence's time is
exactly what is compared against. Computed offsets are rounded to nanoseconds, so
``every: 0.1`` occurs at the same floats as the frame times 3/30, 6/30, … (for frame times
converted from exact fractions, such as ``float(pts * time_base)``).
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Protocol

from apscheduler.triggers.cron import CronTrigger

_DIGITS = 9  # offsets are rounded to nanoseconds


class Times(Protocol):
    """A non-decreasing sequence of occurrence offsets."""

    count: int | None  # the number of occurrences, when known to be finite

    def has(self, index: int) -> bool:
        """Whether occurrence ``index`` (>= 0) exists."""
        ...

    def time(self, index: int) -> float:
        """The offset of occurrence ``index``."""
        ...

    def estimate(self, t: float) -> int:
        """An existing index (or -1) near the last occurrence at or before ``t`` (t >= 0)."""
        ...


class SeriesTimes:
    """``first``, ``first + interval``, … : ``count`` occurrences, or endless when ``None``."""

    def __init__(self, first: float, interval: float, count: int | None) -> None:
        self.first = first
        self.interval = interval
        self.count = count

    def has(self, index: int) -> bool:
        return self.count is None or index < self.count

    def time(self, index: int) -> float:
        return round(self.first + index * self.interval, _DIGITS)

    def estimate(self, t: float) -> int:
        index = math.floor((t - self.first) / self.interval) if self.interval else 0
        return max(-1, index if self.count is None else min(index, self.count - 1))

    @classmethod
    def bounded(
        cls, first: float, interval: float, limit: float, *, inclusive: bool
    ) -> SeriesTimes:
        """The series up to ``limit`` (inclusive or not); at least ``first`` must fit."""
        series = cls(first, interval, None)
        series.count = last_index(series, limit, inclusive=inclusive) + 1
        return series


class ListTimes:
    """Explicit sorted offsets."""

    def __init__(self, times: Sequence[float]) -> None:
        self.times = tuple(times)
        self.count = len(self.times)

    def has(self, index: int) -> bool:
        return index < self.count

    def time(self, index: int) -> float:
        return self.times[index]

    def estimate(self, t: float) -> int:
        return bisect.bisect_right(self.times, t) - 1


class LoopedTimes:
    """A finite sequence within [0, period] repeated every ``period``: endless."""

    count = None

    def __init__(self, inner: SeriesTimes | ListTimes, period: float) -> None:
        assert inner.count, "the repeated part is finite and not empty"
        self.inner = inner
        self.period = period
        self.size = inner.count

    def has(self, index: int) -> bool:
        return True

    def time(self, index: int) -> float:
        repetition, local = divmod(index, self.size)
        return round(repetition * self.period + self.inner.time(local), _DIGITS)

    def estimate(self, t: float) -> int:
        repetition = math.floor(t / self.period)
        return repetition * self.size + self.inner.estimate(t - repetition * self.period)


class CronTimes:
    """Fire times of a cron expression after ``origin``, as offsets from it.

    Computed by APScheduler's ``CronTrigger`` in the cue's time zone (so days with a DST
    change are its business), extended lazily and kept: offsets are real elapsed seconds.
    """

    count = None

    def __init__(self, expression: str, timezone: str, origin: datetime) -> None:
        self.trigger = CronTrigger.from_crontab(expression, timezone=timezone)
        self.origin = origin.astimezone(UTC)
        self.fires: list[float] = []
        self.exhausted = False

    def _extend(self) -> None:
        after = self.origin
        if self.fires:
            after += timedelta(seconds=self.fires[-1], microseconds=1)
        fire = self.trigger.get_next_fire_time(None, after)
        if fire is None:
            self.exhausted = True
        else:
            self.fires.append((fire.astimezone(UTC) - self.origin).total_seconds())

    def has(self, index: int) -> bool:
        while len(self.fires) <= index and not self.exhausted:
            self._extend()
        return index < len(self.fires)

    def time(self, index: int) -> float:
        self.has(index)
        return self.fires[index]

    def estimate(self, t: float) -> int:
        while not self.exhausted and (not self.fires or self.fires[-1] <= t):
            self._extend()
        return bisect.bisect_right(self.fires, t) - 1


def last_index(times: Times, t: float, *, inclusive: bool) -> int:
    """The index of the last occurrence at or before ``t`` (before, if not ``inclusive``).

    -1 when there is none.
    """
    if t < 0 or (t == 0 and not inclusive):
        return -1

    def before(index: int) -> bool:
        occurrence = times.time(index)
        return occurrence <= t if inclusive else occurrence < t

    index = times.estimate(t)
    while times.has(index + 1) and before(index + 1):
        index += 1
    while index >= 0 and not before(index):
        index -= 1
    return index
