"""What every target's value is at a stream time: ramps, keyframes, loops, random, reload."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

import pytest

from rtcflow.spec.timeline import Target, TimelineSpec
from rtcflow.timeline import Timeline, TimelineError

PROMPT = Target.parse("dream.prompt")
GUIDANCE = Target.parse("dream.guidance_scale")
SEED = Target.parse("dream.seed")
BLUR = Target.parse("fx.5.blur_radius")
INITIAL = {"dream.prompt": "a sunset", "dream.guidance_scale": 1.0, "dream.seed": 42}


def compile_(timeline: object, initial: dict[str, Any] | None = None, **kwargs: Any) -> Timeline:
    return Timeline(
        TimelineSpec.model_validate(timeline),
        initial=INITIAL if initial is None else initial,
        **kwargs,
    )


def test_before_any_cue_targets_keep_their_initial_values() -> None:
    timeline = compile_([{"at": "30s", "set": {"dream.guidance_scale": 2.0}}])
    assert timeline.value_at(0) == {GUIDANCE: 1.0}
    assert timeline.value_at(29.99) == {GUIDANCE: 1.0}
    assert timeline.value_at(30) == {GUIDANCE: 2.0}
    assert timeline.value_at(-5) == {GUIDANCE: 1.0}


def test_a_ramp_moves_from_the_current_value_along_its_easing() -> None:
    timeline = compile_(
        [
            {"at": 10, "set": {"dream.guidance_scale": 3.0}, "ramp": 4},
            {
                "at": 20,
                "set": {"dream.guidance_scale": 1.0},
                "ramp": {"duration": 4, "easing": "ease-in"},
            },
        ]
    )
    assert timeline.value_at(10)[GUIDANCE] == 1.0
    assert timeline.value_at(11)[GUIDANCE] == pytest.approx(1.5)
    assert timeline.value_at(12)[GUIDANCE] == pytest.approx(2.0)
    assert timeline.value_at(14)[GUIDANCE] == 3.0
    assert timeline.value_at(22)[GUIDANCE] == pytest.approx(3.0 - 2.0 * 0.125)
    assert timeline.value_at(24)[GUIDANCE] == 1.0


def test_integer_targets_ramp_through_integers() -> None:
    timeline = compile_(
        [{"at": 0, "set": {"dream.num_inference_steps": 50}, "ramp": 10}],
        initial={"dream.num_inference_steps": 10},
    )
    values = [timeline.value_at(t)[Target.parse("dream.num_inference_steps")] for t in range(11)]
    assert values == [10, 14, 18, 22, 26, 30, 34, 38, 42, 46, 50]
    assert all(isinstance(v, int) for v in values)


def test_a_prompt_ramp_is_a_crossfade() -> None:
    timeline = compile_([{"at": "30s", "set": {"dream.prompt": "neon city"}, "ramp": "5s"}])
    assert timeline.value_at(30)[PROMPT] == "a sunset"
    assert timeline.value_at(31)[PROMPT] == [["a sunset", 0.8], ["neon city", pytest.approx(0.2)]]
    assert timeline.value_at(35)[PROMPT] == "neon city"


def test_a_ramp_that_starts_mid_ramp_starts_from_the_value_there() -> None:
    timeline = compile_(
        [
            {"at": 10, "set": {"dream.prompt": "neon city"}, "ramp": 10},
            {"at": 15, "set": {"dream.prompt": "forest"}, "ramp": 10},
        ]
    )
    assert timeline.value_at(20)[PROMPT] == [
        ["a sunset", pytest.approx(0.25)],
        ["neon city", pytest.approx(0.25)],
        ["forest", pytest.approx(0.5)],
    ]
    assert timeline.value_at(25)[PROMPT] == "forest"


def reference(cues: list[tuple[float, float]], ramp: float, initial: float, t: float) -> float:
    """Overlapping linear ramps, evaluated the obvious way: each starts where the last is."""
    value, start_time, start_value, target = initial, -math.inf, initial, initial
    for time, new in cues:
        if time > t:
            break
        value = start_value + (target - start_value) * min(1.0, (time - start_time) / ramp)
        start_time, start_value, target = time, value, new
    return start_value + (target - start_value) * min(1.0, (t - start_time) / ramp)


def test_chains_of_overlapping_ramps_match_a_plain_evaluation_in_any_query_order() -> None:
    cues = [(float(i), float((i * 37) % 11)) for i in range(40)]
    spec = [{"at": time, "set": {"dream.guidance_scale": new}, "ramp": 3.5} for time, new in cues]
    samples = [i * 0.37 for i in range(130)]
    expected = [reference(cues, 3.5, 1.0, t) for t in samples]
    forward = compile_(spec)
    assert [forward.value_at(t)[GUIDANCE] for t in samples] == pytest.approx(expected)
    backward = compile_(spec)
    reversed_values = [backward.value_at(t)[GUIDANCE] for t in reversed(samples)]
    assert list(reversed(reversed_values)) == pytest.approx(expected)


def test_an_endless_chain_of_ramps_is_evaluated_without_recursion() -> None:
    timeline = compile_(
        [{"every": 1, "set": {"dream.guidance_scale": "random(0.0, 10.0)"}, "ramp": 2}]
    )
    late = timeline.value_at(5000.5)[GUIDANCE]
    assert 0.0 <= late <= 10.0
    assert compile_(
        [{"every": 1, "set": {"dream.guidance_scale": "random(0.0, 10.0)"}, "ramp": 2}]
    ).value_at(5000.5)[GUIDANCE] == pytest.approx(late)


def test_keyframes_interpolate_with_the_easing_of_the_key_they_move_to() -> None:
    timeline = compile_(
        {
            "tracks": [
                {
                    "track": "fx.5.blur_radius",
                    "keys": [
                        {"at": 5, "value": 0.0},
                        {"at": 15, "value": 1.0, "easing": "ease-in-out"},
                        {"at": 25, "value": 1.0},
                        {"at": 35, "value": 4.0, "easing": "step"},
                    ],
                }
            ]
        },
        initial={"fx.5.blur_radius": 9.0},
    )

    def blur(t: float) -> float:
        return timeline.value_at(t)[BLUR]

    assert blur(0) == 9.0, "before the first key the target keeps its value"
    assert blur(5) == 0.0
    assert blur(7.5) == pytest.approx(0.0625)
    assert blur(10) == pytest.approx(0.5)
    assert blur(15) == 1.0 and blur(20) == 1.0
    assert blur(34.9) == 1.0, "step holds until the key"
    assert blur(35) == 4.0 and blur(1000) == 4.0


def test_a_single_key_sets_the_value_at_its_time() -> None:
    timeline = compile_(
        {"tracks": [{"track": "fx.5.mode", "keys": [{"at": 3, "value": "hard"}]}]}, {}
    )
    assert timeline.value_at(2.9) == {}
    assert timeline.value_at(3) == {Target.parse("fx.5.mode"): "hard"}


def test_a_looping_track_repeats_and_a_key_at_the_loop_end_closes_it() -> None:
    timeline = compile_(
        {
            "loop": 30,
            "tracks": [
                {
                    "track": "fx.5.blur_radius",
                    "keys": [
                        {"at": 0, "value": 0.0},
                        {"at": 10, "value": 3.0},
                        {"at": 30, "value": 0.0},
                    ],
                }
            ],
        },
        {},
    )
    for t in (0, 5, 10, 20, 29.9):
        assert timeline.value_at(t + 30) == pytest.approx(timeline.value_at(t))
        assert timeline.value_at(t + 300) == pytest.approx(timeline.value_at(t))
    assert timeline.value_at(29.999)[BLUR] == pytest.approx(0.0, abs=1e-3)


def test_looped_cues_carry_values_over_into_the_next_repetition() -> None:
    timeline = compile_(
        {
            "loop": 60,
            "cues": [
                {"at": 0, "set": {"dream.prompt": "dawn"}, "ramp": 10},
                {"at": 30, "set": {"dream.prompt": "dusk"}, "ramp": 10},
            ],
        }
    )
    assert timeline.value_at(5)[PROMPT] == [["a sunset", 0.5], ["dawn", 0.5]]
    assert timeline.value_at(65)[PROMPT] == [["dusk", 0.5], ["dawn", 0.5]]
    assert timeline.value_at(125)[PROMPT] == [["dusk", 0.5], ["dawn", 0.5]]
    assert timeline.status(65).iteration == 1
    assert timeline.status(65).loop_position == pytest.approx(5)


def test_random_values_are_reproducible_from_the_timeline_seed() -> None:
    spec = {"seed": 7, "cues": [{"every": "2m", "set": {"dream.seed": "random"}}]}
    times = [120 * k + 1 for k in range(1, 30)]
    first = compile_(spec)
    drawn = [first.value_at(t)[SEED] for t in times]
    assert len(set(drawn)) == len(drawn), "every occurrence draws a new seed"
    second = compile_(spec)
    assert [second.value_at(t)[SEED] for t in reversed(times)] == list(reversed(drawn))
    other = compile_({**spec, "seed": 8})
    assert [other.value_at(t)[SEED] for t in times] != drawn
    assert first.value_at(100)[SEED] == 42


def test_random_values_differ_per_loop_repetition() -> None:
    timeline = compile_({"loop": 10, "cues": [{"at": 1, "set": {"dream.seed": "random"}}]})
    seeds = [timeline.value_at(10 * n + 5)[SEED] for n in range(20)]
    assert len(set(seeds)) == 20


def test_targets_without_an_initial_value_appear_once_set_and_do_not_ramp() -> None:
    timeline = compile_([{"at": 5, "set": {"fx.5.blur_radius": 2.0}, "ramp": 10}], initial={})
    assert timeline.value_at(4) == {}
    assert timeline.value_at(5) == {BLUR: 2.0}


def test_cues_at_one_instant_apply_in_declaration_order() -> None:
    timeline = compile_(
        [
            {"at": 5, "set": {"dream.guidance_scale": 2.0}},
            {"at": 5, "set": {"dream.guidance_scale": 3.0}, "ramp": 2},
        ]
    )
    assert timeline.value_at(6)[GUIDANCE] == pytest.approx(2.5)


SHOW = {
    "seed": 3,
    "loop": "2m",
    "cues": [
        {"at": 0, "set": {"dream.prompt": "dawn"}, "ramp": "5s"},
        {
            "at": "30s",
            "set": {"dream.prompt": "neon city", "dream.guidance_scale": 2.0},
            "ramp": "5s",
        },
        {
            "at": "32s",
            "set": {"dream.prompt": "forest"},
            "ramp": {"duration": 4, "easing": "ease-out"},
        },
        {"every": "20s", "set": {"dream.seed": "random"}},
        {"every": "7s", "set": {"dream.guidance_scale": "random(1.0, 3.0)"}, "ramp": "3s"},
    ],
    "tracks": [
        {
            "track": "fx.5.blur_radius",
            "keys": [
                {"at": 0, "value": 0.0},
                {"at": "40s", "value": 4.0, "easing": "ease-in-out"},
                {"at": "2m", "value": 0.0},
            ],
        }
    ],
}


def test_a_playhead_gives_value_at_on_every_frame_and_fires_each_change_once() -> None:
    timeline = compile_(SHOW)
    playhead = timeline.playhead()
    fired = []
    previous: dict[Target, Any] = dict(timeline.initial)
    for frame in range(0, 300 * 30, 3):
        t = frame / 30
        tick = playhead.advance(t)
        expected = timeline.value_at(t)
        assert dict(tick.values) == expected
        assert tick.changed == {k: v for k, v in expected.items() if previous.get(k) != v}
        previous = expected
        fired += tick.fired
    assert fired == list(timeline.changes_between(-math.inf, 299.9))
    assert playhead.position == pytest.approx(299.9)


def test_a_playhead_moves_forward_only() -> None:
    playhead = compile_(SHOW).playhead()
    playhead.advance(10)
    with pytest.raises(TimelineError, match="moves forward only"):
        playhead.advance(9)


def test_reload_recomputes_values_and_replays_nothing_from_the_past() -> None:
    old = compile_([{"at": 40, "set": {"dream.guidance_scale": 2.0}}])
    new = compile_(
        [
            {"at": 20, "set": {"dream.guidance_scale": 5.0}},
            {"at": 30, "set": {"dream.prompt": "neon city"}, "ramp": 60},
            {"at": 70, "set": {"dream.seed": 7}},
        ]
    )
    playhead = old.playhead()
    for frame in range(0, 50 * 30 + 1):
        playhead.advance(frame / 30)
    assert dict(playhead.values) == {GUIDANCE: 2.0}

    reloaded = new.playhead(start=50, applied=playhead.values)
    tick = reloaded.advance(50 + 1 / 30)
    assert tick.fired == (), "cues before the reload are not replayed"
    assert tick.changed[GUIDANCE] == 5.0, "values are recomputed from the new timeline"
    assert tick.changed[PROMPT] == new.value_at(50 + 1 / 30)[PROMPT]
    fired = []
    for frame in range(50 * 30 + 2, 80 * 30):
        tick = reloaded.advance(frame / 30)
        assert dict(tick.values) == new.value_at(frame / 30)
        fired += tick.fired
    assert [(c.time, str(c.target), c.value) for c in fired] == [(70, "dream.seed", 7)]


def test_next_cue_and_status() -> None:
    timeline = compile_(SHOW)
    upcoming = timeline.next_cue(29)
    assert [(c.time, str(c.target), c.value) for c in upcoming] == [
        (30, "dream.prompt", "neon city"),
        (30, "dream.guidance_scale", 2.0),
    ]
    assert timeline.next_cue(30)[0].time == 32
    status = timeline.status(31)
    assert status.position == 31 and status.iteration == 0
    assert status.values["dream.prompt"] == [
        ["dawn", pytest.approx(0.8)],
        ["neon city", pytest.approx(0.2)],
    ]
    assert [(c.at, c.target, c.source) for c in status.next_cue] == [
        (32, "dream.prompt", "cues[2]")
    ]
    assert status.model_dump(mode="json")["next_cue"][0]["value"] == "forest"
    assert compile_([{"at": 1, "set": {"dream.seed": 1}}]).next_cue(1) == ()


def test_horizon_covers_the_schedule() -> None:
    assert compile_(SHOW).horizon() == 120
    assert compile_([{"at": 30, "set": {"dream.seed": 1}, "ramp": 5}]).horizon() == 35
    assert compile_([{"every": "2m", "set": {"dream.seed": 1}}]).horizon() == 360
    cron = compile_(
        [{"cron": "30 12 * * *", "timezone": "UTC", "set": {"dream.seed": 1}}],
        origin=datetime(2025, 1, 1, 12, 0, tzinfo=UTC),
    )
    assert cron.horizon() == 1800 + 2 * 86_400
    assert compile_({}).horizon() == 60
