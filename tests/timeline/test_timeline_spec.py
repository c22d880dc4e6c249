"""Timeline spec models: durations, targets, random values, validation errors and paths."""

from __future__ import annotations

import re

import jsonschema
import pytest
from pydantic import BaseModel, Field, ValidationError

from rtcflow.spec.timeline import (
    DURATION_PATTERN,
    RandomValue,
    Target,
    TimelineSpec,
    format_duration,
    parse_duration,
)


class Body(BaseModel):
    """Stands in for the flow's ``spec``, so error locations come out as the loader sees them."""

    timeline: TimelineSpec = Field(default_factory=TimelineSpec)


def errors(timeline: object) -> dict[tuple, str]:
    with pytest.raises(ValidationError) as caught:
        Body.model_validate({"timeline": timeline})
    return {error["loc"]: error["msg"] for error in caught.value.errors()}


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        (90, 90.0),
        (1.5, 1.5),
        ("90", 90.0),
        ("2.25", 2.25),
        ("90s", 90.0),
        ("1.5s", 1.5),
        ("1m30s", 90.0),
        ("2m", 120.0),
        ("1h", 3600.0),
        ("1h2m3s", 3723.0),
        ("500ms", 0.5),
        ("1s250ms", 1.25),
        ("00:01:30", 90.0),
        ("1:30", 90.0),
        ("1:00:00.5", 3600.5),
        (" 45s ", 45.0),
        (0, 0.0),
    ],
)
def test_durations_in_every_form(text: object, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)
    if isinstance(text, str):
        assert re.match(DURATION_PATTERN, text), "the JSON schema pattern accepts it too"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("1x", "invalid duration '1x': use a number of seconds, units like 90s"),
        ("30s1m", "invalid duration '30s1m'"),
        ("1m1m", "invalid duration '1m1m'"),
        ("", "invalid duration ''"),
        ("1:75", "minutes and seconds must be < 60"),
        ("1:60:00", "minutes and seconds must be < 60"),
        (-5, "must be a finite, non-negative time"),
        (float("nan"), "must be a finite, non-negative time"),
        (True, "invalid duration True"),
        ([1], "invalid duration [1]"),
    ],
)
def test_bad_durations_say_what_is_accepted(text: object, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        parse_duration(text)


def test_bad_duration_strings_fail_the_schema_pattern_too() -> None:
    for text in ("1x", "30s1m", "1m1m", "soon"):
        assert not re.match(DURATION_PATTERN, text)


@pytest.mark.parametrize("seconds", [0.0, 0.5, 1.0, 59.25, 90.0, 3600.0, 3723.5])
def test_format_duration_round_trips(seconds: float) -> None:
    assert parse_duration(format_duration(seconds)) == pytest.approx(seconds)


@pytest.mark.parametrize(
    ("text", "target"),
    [
        ("dream.prompt", Target("dream", ("prompt",))),
        ("dream.guidance_scale", Target("dream", ("guidance_scale",))),
        (
            "dream.controlnets[0].conditioning_scale",
            Target("dream", ("controlnets", 0, "conditioning_scale")),
        ),
        ("fx.5.blur_radius", Target("fx", ("5", "blur_radius"))),
        ("fx.12:3.strength", Target("fx", ("12:3", "strength"))),
    ],
)
def test_targets_parse_into_step_and_path(text: str, target: Target) -> None:
    assert Target.parse(text) == target
    assert str(target) == text


@pytest.mark.parametrize("text", ["dream", "dream.", ".prompt", "dream[0].x", "dream.a b", "a..b"])
def test_bad_targets_name_the_expected_form(text: str) -> None:
    with pytest.raises(ValueError, match=r"expected <step>\.<param>"):
        Target.parse(text)


def test_random_values() -> None:
    seed = RandomValue.parse("random")
    assert seed is not None and seed.integer and (seed.low, seed.high) == (0, 2**32 - 1)
    ints = RandomValue.parse("random(1, 10)")
    assert ints is not None and ints.integer and (ints.low, ints.high) == (1, 10)
    floats = RandomValue.parse("random(0.5,2)")
    assert floats is not None and not floats.integer and (floats.low, floats.high) == (0.5, 2.0)
    assert RandomValue.parse("random forest at dawn") is None
    with pytest.raises(ValueError, match="use random \\(a seed\\) or random\\(a, b\\)"):
        RandomValue.parse("random(1)")
    with pytest.raises(ValueError, match="needs a <= b"):
        RandomValue.parse("random(5, 1)")


def test_a_list_is_a_timeline_of_cues_and_tracks_and_keeps_its_own_field_paths() -> None:
    body = Body.model_validate(
        {
            "timeline": [
                {"at": "30s", "set": {"dream.prompt": "neon city"}, "ramp": "5s"},
                {"track": "fx.5.blur_radius", "keys": [{"at": 0, "value": 1.0}]},
                {"every": "2m", "set": {"dream.seed": "random"}},
            ]
        }
    )
    timeline = body.timeline
    cue = timeline.cues[0]
    assert (cue.at, cue.ramp.duration, cue.ramp.easing) == (30.0, 5.0, "linear")
    assert [track.track for track in timeline.tracks] == ["fx.5.blur_radius"]
    assert timeline.loc("cues", 1) == (2,) and timeline.label("cues", 1) == "[2]"
    assert timeline.loc("tracks", 0) == (1,) and timeline.label("tracks", 0) == "[1]"
    as_object = TimelineSpec.model_validate({"cues": [cue]})
    assert as_object.loc("cues", 0) == ("cues", 0) and as_object.label("cues", 0) == "cues[0]"

    assert errors(
        [
            {"at": 1, "set": {"a.b": 1}},
            {"track": "a.c", "keys": [{"at": "1x", "value": 1}]},
            {"at": "1x", "set": {"a.b": 1}},
            {"track": "a.c", "keys": [{"at": 0, "value": 1}]},
        ]
    ) == {
        ("timeline", 1, "keys", 0, "at"): "Value error, invalid duration '1x': use a number of "
        "seconds, units like 90s, 1m30s, 1h, 500ms, or a clock time like 00:01:30",
        ("timeline", 2, "at"): "Value error, invalid duration '1x': use a number of seconds, "
        "units like 90s, 1m30s, 1h, 500ms, or a clock time like 00:01:30",
    }
    assert errors(
        [
            {"track": "a.c", "keys": [{"at": 0, "value": 1}]},
            {"at": 1, "set": {"a.c": 1}},
            {"track": "a.c", "keys": [{"at": 0, "value": 1}]},
        ]
    ) == {
        ("timeline", 1, "set", "a.c"): "Value error, a.c follows a keyframe track ([0]); "
        "cues cannot also set it",
        ("timeline", 2, "track"): "Value error, a.c already has a track ([0])",
    }


def test_field_errors_carry_the_path_to_the_field() -> None:
    found = errors(
        {
            "cues": [
                {"at": 1, "set": {"dream": 1}},
                {"at": 1, "set": {"dream.seed": "random(1)"}},
                {"every": 0, "set": {"dream.seed": None}},
                {"at": 1, "set": {}, "ramp": "soon"},
                {"at": 1, "set": {"a.b": 1}, "ramp": {"duration": 2, "easing": "bouncy"}},
                {"at": 1, "set": {"a.b": 1}, "colour": "red"},
            ],
            "tracks": [{"track": "a.c", "keys": [{"at": "5s", "value": 1}, {"at": 2, "value": 0}]}],
        }
    )
    assert set(found) == {
        ("timeline", "cues", 0, "set", "dream", "[key]"),
        ("timeline", "cues", 1, "set", "dream.seed"),
        ("timeline", "cues", 2, "every"),
        ("timeline", "cues", 2, "set", "dream.seed"),
        ("timeline", "cues", 3, "set"),
        ("timeline", "cues", 3, "ramp"),
        ("timeline", "cues", 4, "ramp", "easing"),
        ("timeline", "cues", 5, "colour"),
        ("timeline", "tracks", 0, "keys"),
    }
    assert "null sets nothing" in found[("timeline", "cues", 2, "set", "dream.seed")]
    assert (
        "keys[1].at (2s) is not after keys[0].at (5s)" in found[("timeline", "tracks", 0, "keys")]
    )


def test_a_cue_has_exactly_one_schedule() -> None:
    assert (
        "exactly one of 'at', 'every' or 'cron' (got at, every)"
        in errors([{"at": 1, "every": 2, "set": {"a.b": 1}}])[("timeline", 0)]
    )
    assert "exactly one of" in errors([{"set": {"a.b": 1}}])[("timeline", 0)]
    assert (
        "'start' and 'until' belong to 'every'"
        in errors([{"at": 1, "until": 5, "set": {"a.b": 1}}])[("timeline", 0)]
    )
    assert (
        "'until' is before 'start'"
        in errors([{"every": 1, "start": 5, "until": 2, "set": {"a.b": 1}}])[("timeline", 0)]
    )


def test_cron_cues_are_checked_by_apscheduler_and_need_a_zone() -> None:
    found = errors(
        [
            {"cron": "61 * * * *", "timezone": "UTC", "set": {"a.b": 1}},
            {"cron": "* * * *", "timezone": "UTC", "set": {"a.b": 1}},
            {"cron": "0 21 * * 1-5", "timezone": "UTC", "set": {"a.b": 1}},
            {"cron": "0 0 31 2 *", "timezone": "UTC", "set": {"a.b": 1}},
            {"cron": "0 21 * * *", "timezone": "Mars/Olympus", "set": {"a.b": 1}},
            {"cron": "0 21 * * *", "set": {"a.b": 1}},
            {"at": 3, "timezone": "UTC", "set": {"a.b": 1}},
        ]
    )
    assert "higher than the maximum value (59)" in found[("timeline", 0, "cron")]
    assert "Wrong number of fields" in found[("timeline", 1, "cron")]
    assert "write weekdays as names" in found[("timeline", 2, "cron")]
    assert "never fires" in found[("timeline", 3, "cron")]
    assert "unknown time zone 'Mars/Olympus'" in found[("timeline", 4, "timezone")]
    assert "a cron cue needs a 'timezone'" in found[("timeline", 5)]
    assert "'timezone' belongs to cron cues" in found[("timeline", 6)]


def test_cross_checks_point_at_the_offending_field() -> None:
    found = errors(
        {
            "loop": "1m",
            "cues": [
                {"at": "1m", "set": {"a.b": 1}},
                {"every": "2m", "set": {"a.c": 1}},
                {"every": "10s", "start": "70s", "set": {"a.d": 1}},
                {"at": 0, "set": {"fx.1.x": 2}},
            ],
            "tracks": [
                {"track": "fx.1.x", "keys": [{"at": 0, "value": 0}, {"at": "1m", "value": 1}]},
                {"track": "fx.1.x", "keys": [{"at": "1m", "value": 0}]},
            ],
        }
    )
    assert set(found) == {
        ("timeline", "cues", 0, "at"),
        ("timeline", "cues", 1, "every"),
        ("timeline", "cues", 2, "start"),
        ("timeline", "cues", 3, "set", "fx.1.x"),
        ("timeline", "tracks", 1, "track"),
        ("timeline", "tracks", 1, "keys", 0, "at"),
    }
    assert "not inside the loop (1m)" in found[("timeline", "cues", 0, "at")]
    assert "follows a keyframe track (tracks[0])" in found[("timeline", "cues", 3, "set", "fx.1.x")]
    assert "already has a track (tracks[0])" in found[("timeline", "tracks", 1, "track")]
    assert "already has a track (tracks[0])" in found[("timeline", "tracks", 1, "track")]


def test_keyframes_reject_random_values() -> None:
    found = errors({"tracks": [{"track": "a.b", "keys": [{"at": 0, "value": "random(1, 2)"}]}]})
    assert "keyframe values are fixed" in found[("timeline", "tracks", 0, "keys", 0, "value")]


def test_models_are_frozen_and_dump_back_to_spec_values() -> None:
    spec = TimelineSpec.model_validate(
        {
            "seed": 3,
            "cues": [{"every": "2m", "set": {"dream.seed": "random", "x.y": "random(1, 9)"}}],
        }
    )
    with pytest.raises(ValidationError):
        spec.seed = 4  # type: ignore[misc]
    dumped = spec.model_dump(exclude_none=True)
    assert dumped["cues"][0]["set"] == {"dream.seed": "random", "x.y": "random(1, 9)"}
    assert TimelineSpec.model_validate(dumped) == spec


def test_json_schema_accepts_both_forms_and_rejects_bad_durations() -> None:
    schema = Body.model_json_schema()
    cue = {"at": "1m30s", "set": {"dream.prompt": "neon"}, "ramp": {"duration": "5s"}}
    track = {"track": "fx.5.blur_radius", "keys": [{"at": "1s", "value": 2}]}
    jsonschema.validate({"timeline": [cue, track]}, schema)
    jsonschema.validate({"timeline": {"seed": 1, "loop": "2m", "cues": [cue]}}, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"timeline": [{**cue, "at": "1x"}]}, schema)
