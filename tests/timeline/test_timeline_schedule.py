"""When cues fire: at, every (start/until), loop, and cron through APScheduler."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from rtcflow.spec.timeline import TimelineSpec
from rtcflow.timeline import Timeline, TimelineError

BERLIN = ZoneInfo("Europe/Berlin")


def compile_(timeline: object, *, origin: datetime | None = None, **initial: object) -> Timeline:
    spec = TimelineSpec.model_validate(timeline)
    return Timeline(
        spec, initial={k.replace("__", "."): v for k, v in initial.items()}, origin=origin
    )


def fire_times(timeline: Timeline, until: float) -> list[float]:
    return [change.time for change in timeline.changes_between(-math.inf, until)]


def test_at_fires_once_at_its_offset() -> None:
    timeline = compile_([{"at": "1m30s", "set": {"a.b": 1}}])
    assert fire_times(timeline, 3600) == [90.0]
    assert next(timeline.changes_between(0, 100)).source == "[0]", "named as in the list"
    assert [c.time for c in timeline.changes_between(89.9, 90.0)] == [90.0]
    assert list(timeline.changes_between(90.0, 200)) == [], "(t0, t1] excludes t0"


def test_every_starts_one_interval_in_unless_told_and_until_is_inclusive() -> None:
    assert fire_times(compile_([{"every": "2m", "set": {"a.b": 1}}]), 600) == [
        120,
        240,
        360,
        480,
        600,
    ]
    bounded = compile_([{"every": "2m", "start": 0, "until": "6m", "set": {"a.b": 1}}])
    assert fire_times(bounded, 3600) == [0, 120, 240, 360]
    offset = compile_([{"every": 10, "start": 5, "until": 34, "set": {"a.b": 1}}])
    assert fire_times(offset, 3600) == [5, 15, 25]


def test_every_is_endless_without_until() -> None:
    timeline = compile_([{"every": 30, "set": {"a.b": 1}}])
    assert len(fire_times(timeline, 86_400)) == 2880
    assert [c.occurrence for c in timeline.changes_between(86_340, 86_400)] == [2878, 2879]


def test_fractional_intervals_fire_on_the_frame_that_reaches_them() -> None:
    timeline = compile_([{"every": 0.1, "start": 0, "set": {"a.b": 1}}])
    assert len(fire_times(timeline, 1.0)) == 11
    playhead = timeline.playhead()
    fired = [len(playhead.advance(frame / 30).fired) for frame in range(31)]
    assert sum(fired) == 11
    assert [frame for frame, count in enumerate(fired) if count] == [
        0,
        3,
        6,
        9,
        12,
        15,
        18,
        21,
        24,
        27,
        30,
    ]


def test_loop_repeats_the_offset_cues_and_counts_occurrences_on() -> None:
    timeline = compile_(
        {
            "loop": "1m",
            "cues": [
                {"at": "10s", "set": {"a.b": 1}},
                {"every": "20s", "start": 0, "set": {"a.c": 1}},
            ],
        }
    )
    changes = list(timeline.changes_between(-1, 130))
    assert [(c.time, c.source, c.occurrence) for c in changes] == [
        (0, "cues[1]", 0),
        (10, "cues[0]", 0),
        (20, "cues[1]", 1),
        (40, "cues[1]", 2),
        (60, "cues[1]", 3),
        (70, "cues[0]", 1),
        (80, "cues[1]", 4),
        (100, "cues[1]", 5),
        (120, "cues[1]", 6),
        (130, "cues[0]", 2),
    ]


def test_loop_cuts_every_at_the_loop_end_and_until() -> None:
    timeline = compile_(
        {
            "loop": 50,
            "cues": [
                {"every": 20, "set": {"a.b": 1}},
                {"every": 10, "start": 0, "until": 15, "set": {"a.c": 1}},
            ],
        }
    )
    assert [(c.time, str(c.target)) for c in timeline.changes_between(-1, 100)] == [
        (0, "a.c"),
        (10, "a.c"),
        (20, "a.b"),
        (40, "a.b"),
        (50, "a.c"),
        (60, "a.c"),
        (70, "a.b"),
        (90, "a.b"),
        (100, "a.c"),
    ]


def test_cron_fires_on_wall_clock_time_in_its_zone() -> None:
    origin = datetime(2025, 6, 1, 20, 59, tzinfo=BERLIN)
    timeline = compile_(
        [{"cron": "0 21 * * *", "timezone": "Europe/Berlin", "set": {"a.b": 1}}], origin=origin
    )
    assert fire_times(timeline, 2 * 86_400) == [60.0, 86_460.0]
    # The same instant given in UTC is the same origin.
    utc = compile_(
        [{"cron": "0 21 * * *", "timezone": "Europe/Berlin", "set": {"a.b": 1}}],
        origin=origin.astimezone(UTC),
    )
    assert fire_times(utc, 2 * 86_400) == [60.0, 86_460.0]
    # The zone matters: 21:00 in New York is six hours later than in Berlin.
    new_york = compile_(
        [{"cron": "0 21 * * *", "timezone": "America/New_York", "set": {"a.b": 1}}], origin=origin
    )
    assert fire_times(new_york, 86_400) == [60.0 + 6 * 3600]


def test_cron_weekdays_by_name() -> None:
    saturday = datetime(2025, 6, 7, 12, 0, tzinfo=UTC)
    timeline = compile_(
        [{"cron": "0 9 * * mon-fri", "timezone": "UTC", "set": {"a.b": 1}}], origin=saturday
    )
    # Saturday 12:00 → Monday 09:00 (45 h), Tuesday 09:00 (69 h): nothing at the weekend.
    assert fire_times(timeline, 3 * 86_400) == [45 * 3600.0, 69 * 3600.0]


def test_cron_across_dst_changes_counts_real_seconds() -> None:
    # 2025-03-30 in Berlin: 02:00 CET jumps to 03:00 CEST.
    hourly = compile_(
        [{"cron": "0 * * * *", "timezone": "Europe/Berlin", "set": {"a.b": 1}}],
        origin=datetime(2025, 3, 30, 0, 30, tzinfo=BERLIN),
    )
    assert fire_times(hourly, 10_000) == [1800.0, 5400.0, 9000.0], "01:00, 03:00, 04:00"
    nightly = compile_(
        [{"cron": "0 21 * * *", "timezone": "Europe/Berlin", "set": {"a.b": 1}}],
        origin=datetime(2025, 3, 29, 21, 0, tzinfo=BERLIN),
    )
    assert fire_times(nightly, 2 * 86_400) == [0.0, 23 * 3600.0, 47 * 3600.0]
    autumn = compile_(
        [{"cron": "0 21 * * *", "timezone": "Europe/Berlin", "set": {"a.b": 1}}],
        origin=datetime(2025, 10, 25, 21, 0, tzinfo=BERLIN),
    )
    assert fire_times(autumn, 2 * 86_400) == [0.0, 25 * 3600.0]


def test_cron_cues_need_an_aware_origin() -> None:
    cue = [{"cron": "0 21 * * *", "timezone": "UTC", "set": {"a.b": 1}}]
    with pytest.raises(TimelineError, match="cron cues need the flow's wall-clock origin"):
        compile_(cue)
    with pytest.raises(TimelineError, match="timezone-aware"):
        compile_(cue, origin=datetime(2025, 1, 1, 12, 0))


def test_cron_occurrences_draw_their_own_random_values() -> None:
    timeline = compile_(
        {"seed": 5, "cues": [{"cron": "*/5 * * * *", "timezone": "UTC", "set": {"a.b": "random"}}]},
        origin=datetime(2025, 1, 1, tzinfo=UTC),
    )
    values = [c.value for c in timeline.changes_between(-1, 3600)]
    assert len(values) == 13 and len(set(values)) == 13
    again = compile_(
        {"seed": 5, "cues": [{"cron": "*/5 * * * *", "timezone": "UTC", "set": {"a.b": "random"}}]},
        origin=datetime(2025, 1, 1, tzinfo=UTC),
    )
    assert again.value_at(3600)[next(iter(again.targets))] == values[-1]
