"""The compiled timeline: every target's value at any stream time, and its changes.

Level-triggered and deterministic: :meth:`Timeline.value_at` depends only on the spec, the
targets' initial values, the flow's wall-clock origin (for cron cues) and the stream time,
so reloading an edited timeline keeps the origin and recomputes every current value; past
cues are not replayed. Nothing here reads a clock.

Each target has a *lane*: the cue occurrences and keyframe segments that set it, as sorted
occurrence sequences (``schedule``). The value at ``t`` comes from the lane's latest change
at or before ``t``; a ramp starts from the value just before its change, which for ramps
that overlap is found by walking back to the first settled change and is memoised. Ties
at one instant go by declaration order (cues, then tracks).

For per-frame use at video rates, :class:`Playhead` keeps each lane's active change and
the time of its next one, so a frame between changes costs a comparison.
"""

from __future__ import annotations

import heapq
import itertools
import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType
from typing import Any

from rtcflow.spec.timeline import CueSpec, Easing, KeySpec, RandomValue, Target, TimelineSpec
from rtcflow.timeline.easing import ease
from rtcflow.timeline.errors import TimelineError
from rtcflow.timeline.schedule import (
    CronTimes,
    ListTimes,
    LoopedTimes,
    SeriesTimes,
    Times,
    last_index,
)
from rtcflow.timeline.status import CueStatus, TimelineStatus
from rtcflow.timeline.values import UNSET, blend, draw

_MEMO_LIMIT = 65_536


@dataclass(frozen=True, slots=True)
class Change:
    """One scheduled change: at ``time`` the target starts moving to ``value`` over ``ramp``.

    ``start`` is a keyframe segment's fixed starting value; ``None`` means the move starts
    from the target's value just before the change. ``occurrence`` counts a cue's
    occurrences from 0 (random values are drawn per occurrence).
    """

    time: float
    target: Target
    value: Any
    ramp: float
    easing: Easing
    source: str
    occurrence: int
    start: Any = None

    @property
    def end(self) -> float:
        """When the move is complete."""
        return self.time + self.ramp

    def value_at(self, t: float, start: Any) -> Any:
        """The value at ``t`` (>= ``time``) of a move that started from ``start``."""
        if t >= self.time + self.ramp:
            return self.value
        return blend(start, self.value, ease(self.easing, (t - self.time) / self.ramp))


class _CueSource:
    """The occurrences of one cue for one of its targets."""

    def __init__(
        self,
        order: int,
        label: str,
        target: Target,
        value: Any,
        cue: CueSpec,
        times: Times,
        seed: int,
    ) -> None:
        self.order = order
        self.label = label
        self.target = target
        self.value = value
        self.ramp = cue.ramp.duration if cue.ramp else 0.0
        self.easing: Easing = cue.ramp.easing if cue.ramp else "linear"
        self.times = times
        self.seed = seed

    def change(self, index: int) -> Change:
        value = self.value
        if isinstance(value, RandomValue):
            value = draw(self.seed, self.order, index, self.target, value)
        return Change(
            self.times.time(index), self.target, value, self.ramp, self.easing, self.label, index
        )


class _TrackSource:
    """The segments of one keyframe track: each moves from one key's value to the next.

    Segment ``i`` starts at key ``i`` and ends at key ``i + 1``; a single key is a segment
    of no length. ``times`` are the segment starts (repeated when the timeline loops).
    """

    def __init__(
        self,
        order: int,
        label: str,
        target: Target,
        keys: list[KeySpec],
        repeat: Callable[[ListTimes], Times],
    ) -> None:
        self.order = order
        self.label = label
        self.target = target
        if len(keys) == 1:
            self.segments = [(None, keys[0].value, 0.0, keys[0].easing)]
            starts = [keys[0].at]
        else:
            self.segments = [
                (before.value, key.value, key.at - before.at, key.easing)
                for before, key in itertools.pairwise(keys)
            ]
            starts = [key.at for key in keys[:-1]]
        self.times = repeat(ListTimes(starts))

    def change(self, index: int) -> Change:
        start, value, ramp, easing = self.segments[index % len(self.segments)]
        return Change(
            self.times.time(index), self.target, value, ramp, easing, self.label, index, start
        )


_Source = _CueSource | _TrackSource


class _Lane:
    """Everything that sets one target."""

    def __init__(self, index: int, target: Target, initial: Any, sources: list[_Source]):
        self.index = index
        self.target = target
        self.initial = initial
        self.sources = sources

    def latest(self, t: float, order: float = math.inf) -> tuple[_Source, int] | None:
        """The last occurrence ordered before (``t``, ``order``): at ``t`` only lower orders."""
        best: tuple[float, int, _Source, int] | None = None
        for source in self.sources:
            index = last_index(source.times, t, inclusive=source.order < order)
            if index >= 0:
                key = (source.times.time(index), source.order)
                if best is None or key > best[:2]:
                    best = (*key, source, index)
        return None if best is None else best[2:]

    def next_time(self, t: float) -> float:
        """The time of the first occurrence after ``t`` (infinity when there is none)."""
        soonest = math.inf
        for source in self.sources:
            index = last_index(source.times, t, inclusive=True) + 1
            if source.times.has(index):
                soonest = min(soonest, source.times.time(index))
        return soonest


def _targets(initial: Mapping[Target | str, Any]) -> dict[Target, Any]:
    return {
        key if isinstance(key, Target) else Target.parse(key): value
        for key, value in initial.items()
    }


class Timeline:
    """A timeline spec compiled against the targets' initial values and the flow's origin.

    ``initial`` maps targets to their values before the timeline changes them (targets
    without one appear once first set); ``origin`` is the aware wall-clock datetime of
    stream time 0, needed by cron cues. Times are stream offsets in seconds.
    """

    def __init__(
        self,
        spec: TimelineSpec,
        *,
        initial: Mapping[Target | str, Any] | None = None,
        origin: datetime | None = None,
    ) -> None:
        if origin is not None and origin.utcoffset() is None:
            raise TimelineError("the timeline's origin must be a timezone-aware datetime")
        self.spec = spec
        self.origin = origin
        initial_values = _targets(initial or {})
        sources: dict[Target, list[_Source]] = {}
        for index, cue in enumerate(spec.cues):
            times = self._cue_times(cue)
            for text, value in cue.set.items():
                target = Target.parse(text)
                sources.setdefault(target, []).append(
                    _CueSource(
                        index, spec.label("cues", index), target, value, cue, times, spec.seed
                    )
                )
        for index, track in enumerate(spec.tracks):
            target = Target.parse(track.track)
            sources.setdefault(target, []).append(
                _TrackSource(
                    len(spec.cues) + index,
                    spec.label("tracks", index),
                    target,
                    track.keys,
                    self._looped,
                )
            )
        self._lanes = [
            _Lane(index, target, initial_values.get(target, UNSET), lane_sources)
            for index, (target, lane_sources) in enumerate(sources.items())
        ]
        self._memo: dict[tuple[int, int, int], Any] = {}

    def _looped(self, times: SeriesTimes | ListTimes) -> Times:
        return times if self.spec.loop is None else LoopedTimes(times, self.spec.loop)

    def _cue_times(self, cue: CueSpec) -> Times:
        if cue.cron is not None:
            if self.origin is None:
                raise TimelineError("cron cues need the flow's wall-clock origin")
            assert cue.timezone is not None, "the spec requires a zone with cron"
            return CronTimes(cue.cron, cue.timezone, self.origin)
        first = cue.first
        assert first is not None
        if cue.every is None:
            return self._looped(SeriesTimes(first, 0.0, 1))
        loop = self.spec.loop
        if loop is not None and (cue.until is None or cue.until >= loop):
            return self._looped(SeriesTimes.bounded(first, cue.every, loop, inclusive=False))
        if cue.until is not None:
            return self._looped(SeriesTimes.bounded(first, cue.every, cue.until, inclusive=True))
        return SeriesTimes(first, cue.every, None)

    @property
    def targets(self) -> tuple[Target, ...]:
        """Every target the timeline sets, in declaration order."""
        return tuple(lane.target for lane in self._lanes)

    @property
    def initial(self) -> dict[Target, Any]:
        """The known values of the targets before any change."""
        return {lane.target: lane.initial for lane in self._lanes if lane.initial is not UNSET}

    # -- values -----------------------------------------------------------------------

    def _start_of(self, lane: _Lane, source: _Source, index: int, change: Change) -> Any:
        """The lane's value just before ``change`` (occurrence ``index`` of ``source``)."""
        key = (lane.index, source.order, index)
        order = source.order
        unresolved: list[tuple[tuple[int, int, int], Change, Change]] = []
        while True:
            if key in self._memo:
                value = self._memo[key]
                break
            found = lane.latest(change.time, order)
            if found is None:
                value = lane.initial
                break
            previous_source, previous_index = found
            previous = previous_source.change(previous_index)
            if previous.start is not None or change.time >= previous.end:
                value = previous.value_at(change.time, previous.start)
                break
            # The previous change is still moving from its own start: resolve that first.
            unresolved.append((key, change, previous))
            key = (lane.index, previous_source.order, previous_index)
            order, change = previous_source.order, previous
        if len(self._memo) >= _MEMO_LIMIT:
            self._memo.clear()
        self._memo[key] = value
        for later_key, later, previous in reversed(unresolved):
            value = previous.value_at(later.time, value)
            self._memo[later_key] = value
        return value

    def _lane_state(self, lane: _Lane, t: float) -> tuple[Change | None, Any]:
        """The lane's latest change at ``t`` and the value it moves from (its start)."""
        found = lane.latest(t)
        if found is None:
            return None, lane.initial
        source, index = found
        change = source.change(index)
        if change.start is None and t < change.end:
            return change, self._start_of(lane, source, index, change)
        return change, change.start

    def _lane_value(self, lane: _Lane, t: float) -> Any:
        change, start = self._lane_state(lane, t)
        return start if change is None else change.value_at(t, start)

    def value_at(self, t: float) -> dict[Target, Any]:
        """The value of every target at stream time ``t`` (targets not yet known omitted)."""
        t = float(t)
        values = {lane.target: self._lane_value(lane, t) for lane in self._lanes}
        return {target: value for target, value in values.items() if value is not UNSET}

    # -- changes ------------------------------------------------------------------------

    def changes_between(self, t0: float, t1: float) -> Iterator[Change]:
        """The changes scheduled in (``t0``, ``t1``], in time order.

        A change at exactly ``t1`` is in effect in ``value_at(t1)``, so a runtime that calls
        this with the previous and the current frame time sees each change once, on the
        first frame that shows it. Use ``t0 = -math.inf`` to include changes at 0.
        """
        t0, t1 = float(t0), float(t1)

        def occurrences(lane: _Lane, source: _Source) -> Iterator[tuple[float, int, int, Change]]:
            index = last_index(source.times, t0, inclusive=True) + 1
            while source.times.has(index) and (time := source.times.time(index)) <= t1:
                yield time, source.order, lane.index, source.change(index)
                index += 1

        merged = heapq.merge(
            *(occurrences(lane, source) for lane in self._lanes for source in lane.sources),
            key=lambda item: item[:3],
        )
        for *_, change in merged:
            yield change

    def next_cue(self, t: float) -> tuple[Change, ...]:
        """The changes at the first cue instant after ``t`` (empty when nothing is left)."""
        t = float(t)
        soonest = min((lane.next_time(t) for lane in self._lanes), default=math.inf)
        return () if math.isinf(soonest) else tuple(self.changes_between(t, soonest))

    def status(self, t: float) -> TimelineStatus:
        """Position, every target's value and the next cue at stream time ``t``."""
        t = float(t)
        loop = self.spec.loop
        iteration = math.floor(t / loop) if loop is not None and t >= 0 else None
        return TimelineStatus(
            position=t,
            iteration=iteration,
            loop_position=None if iteration is None or loop is None else t - iteration * loop,
            values={str(target): value for target, value in self.value_at(t).items()},
            next_cue=[
                CueStatus(
                    at=change.time,
                    target=str(change.target),
                    value=change.value,
                    ramp=change.ramp,
                    source=change.source,
                )
                for change in self.next_cue(t)
            ],
        )

    def horizon(self) -> float:
        """A span that shows the whole timeline, for tables and plots.

        The loop length; else until the last change ends, counting three occurrences of an
        endless schedule; 60 s for an empty timeline.
        """
        end = self.spec.loop or 0.0
        for lane in self._lanes:
            for source in lane.sources:
                if isinstance(source.times, LoopedTimes):
                    continue
                index = 2 if source.times.count is None else source.times.count - 1
                if source.times.has(index):
                    end = max(end, source.change(index).end)
        return end or 60.0

    def playhead(
        self, start: float | None = None, applied: Mapping[Target | str, Any] | None = None
    ) -> Playhead:
        """A :class:`Playhead` for per-frame use; see there."""
        return Playhead(self, start, applied)


@dataclass(frozen=True, slots=True)
class Tick:
    """What one :meth:`Playhead.advance` found.

    ``values`` is a live read-only view of every known target's value; ``changed`` holds
    the targets whose value differs from the previous tick (every frame of a ramp);
    ``fired`` the cue changes scheduled since the previous tick.
    """

    time: float
    values: Mapping[Target, Any]
    changed: dict[Target, Any]
    fired: tuple[Change, ...]


class Playhead:
    """Evaluates a timeline at non-decreasing stream times, cheaply between changes.

    ``start`` is the stream time already covered (``None``: nothing yet, so changes at 0
    fire on the first tick); ``applied`` the values the runtime currently has (defaults:
    the initial values, or the values at ``start``). For a reload, make a playhead on the
    new timeline with ``start`` = the reload time and ``applied`` = the old playhead's
    values: its first tick reports what differs and fires nothing from before ``start``.
    Every tick gives the same values as :meth:`Timeline.value_at`.
    """

    def __init__(
        self,
        timeline: Timeline,
        start: float | None = None,
        applied: Mapping[Target | str, Any] | None = None,
    ) -> None:
        self._timeline = timeline
        self._lanes = timeline._lanes
        self._t = -math.inf if start is None else float(start)
        if applied is None:
            applied = timeline.initial if start is None else timeline.value_at(self._t)
        targets = set(timeline.targets)
        self._values = {
            target: value for target, value in _targets(applied).items() if target in targets
        }
        self._view = MappingProxyType(self._values)
        count = len(self._lanes)
        self._changes: list[Change | None] = [None] * count
        self._starts: list[Any] = [UNSET] * count
        self._next = [-math.inf] * count  # every lane is looked up on the first tick
        self._wake = -math.inf
        self._ramping: set[int] = set()

    @property
    def position(self) -> float:
        """The stream time of the last tick."""
        return self._t

    @property
    def values(self) -> Mapping[Target, Any]:
        """A live read-only view of the values as of the last tick."""
        return self._view

    def advance(self, t: float) -> Tick:
        """Move to stream time ``t`` (not before the last tick's)."""
        t = float(t)
        if t < self._t:
            raise TimelineError(f"a playhead moves forward only: {t} is before {self._t}")
        fired: tuple[Change, ...] = ()
        evaluate = set(self._ramping)
        if t >= self._wake:
            fired = tuple(self._timeline.changes_between(self._t, t))
            for index, lane in enumerate(self._lanes):
                if self._next[index] <= t:
                    self._refresh(index, lane, t)
                    evaluate.add(index)
            self._wake = min(self._next, default=math.inf)
        self._t = t
        changed: dict[Target, Any] = {}
        for index in evaluate:
            change = self._changes[index]
            if change is None:
                value = self._starts[index]
            else:
                value = change.value_at(t, self._starts[index])
                if t >= change.end:
                    self._ramping.discard(index)
            target = self._lanes[index].target
            if value is not UNSET and self._values.get(target, UNSET) != value:
                self._values[target] = changed[target] = value
        return Tick(t, self._view, changed, fired)

    def _refresh(self, index: int, lane: _Lane, t: float) -> None:
        change, start = self._timeline._lane_state(lane, t)
        self._changes[index], self._starts[index] = change, start
        self._next[index] = lane.next_time(t)
        if change is not None and t < change.end:
            self._ramping.add(index)
        else:
            self._ramping.discard(index)
