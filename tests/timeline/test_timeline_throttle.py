"""Rate-limited, per-step coalesced updates during ramps (Daydream PATCH bodies)."""

from __future__ import annotations

import itertools

import pytest

from rtcflow.spec.timeline import Target, TimelineSpec
from rtcflow.timeline import StepUpdate, Timeline, UpdateThrottle

PROMPT = Target.parse("dream.prompt")
GUIDANCE = Target.parse("dream.guidance_scale")
BLUR = Target.parse("fx.5.blur_radius")


def run(rate: float, seconds: float, fps: int = 30) -> list[tuple[float, StepUpdate]]:
    """Drive a ramping timeline frame by frame through a throttle; collect what goes out."""
    timeline = Timeline(
        TimelineSpec.model_validate(
            [
                {
                    "at": 1,
                    "set": {"dream.prompt": "neon city", "dream.guidance_scale": 3.0},
                    "ramp": {"duration": "2s", "easing": "ease-in-out"},
                },
                {"at": 1, "set": {"fx.5.blur_radius": 4.0}, "ramp": 2},
            ]
        ),
        initial={"dream.prompt": "a sunset", "dream.guidance_scale": 1.0, "fx.5.blur_radius": 0.0},
    )
    playhead = timeline.playhead()
    throttle = UpdateThrottle(rate)
    sent = []
    for frame in range(int(seconds * fps)):
        t = frame / fps
        sent += [(t, update) for update in throttle.push(t, playhead.advance(t).changed)]
    return sent


def test_updates_are_limited_per_step_and_coalesced_into_one_body() -> None:
    sent = run(rate=4, seconds=5)
    dream = [(t, u) for t, u in sent if u.step == "dream"]
    times = [t for t, _ in dream]
    assert all(b - a >= 0.25 - 1e-9 for a, b in itertools.pairwise(times))
    # A 2 s ramp at 4/s: the first frame of the ramp, then one every 0.25 s, then the end.
    assert 8 <= len(dream) <= 10
    for _, update in dream[1:]:
        assert set(update.values) == {PROMPT, GUIDANCE}, "both dream targets in one update"


def test_the_final_value_of_a_ramp_always_goes_out() -> None:
    sent = run(rate=4, seconds=5)
    last_dream = [u for _, u in sent if u.step == "dream"][-1]
    assert last_dream.values == {PROMPT: "neon city", GUIDANCE: 3.0}
    last_fx = [u for _, u in sent if u.step == "fx"][-1]
    assert last_fx.values == {BLUR: 4.0}


def test_steps_are_throttled_independently() -> None:
    sent = run(rate=2, seconds=5)
    assert {u.step for _, u in sent} == {"dream", "fx"}
    assert all(set(u.values) <= {BLUR} for _, u in sent if u.step == "fx")


def test_a_higher_rate_sends_more_updates() -> None:
    assert len(run(rate=10, seconds=5)) > len(run(rate=2, seconds=5))


def test_the_first_change_after_quiet_goes_at_once_and_held_values_wait() -> None:
    throttle = UpdateThrottle(rate=4)
    assert throttle.push(10.0, {GUIDANCE: 1.5}) == [StepUpdate("dream", {GUIDANCE: 1.5})]
    assert throttle.push(10.1, {GUIDANCE: 1.6}) == []
    assert throttle.push(10.2, {GUIDANCE: 1.7, PROMPT: "x"}) == []
    assert throttle.next_due() == pytest.approx(10.25)
    assert throttle.push(10.25, {}) == [StepUpdate("dream", {GUIDANCE: 1.7, PROMPT: "x"})]
    assert throttle.next_due() is None
    assert throttle.push(11.0, {}) == []


def test_flush_sends_everything_held() -> None:
    throttle = UpdateThrottle(rate=1)
    throttle.push(0.0, {GUIDANCE: 1.0, BLUR: 0.5})
    assert throttle.push(0.5, {GUIDANCE: 2.0, BLUR: 1.0}) == []
    assert sorted(throttle.flush(0.6), key=lambda u: u.step) == [
        StepUpdate("dream", {GUIDANCE: 2.0}),
        StepUpdate("fx", {BLUR: 1.0}),
    ]
    assert throttle.flush(0.7) == []


def test_rate_must_be_positive() -> None:
    with pytest.raises(ValueError, match="rate must be positive"):
        UpdateThrottle(0)


def test_params_build_the_patch_body_from_the_current_params() -> None:
    base = {
        "model_id": "stabilityai/sd-turbo",
        "prompt": "a sunset",
        "controlnets": [
            {"model_id": "a", "conditioning_scale": 0.5},
            {"model_id": "b", "conditioning_scale": 0.1},
        ],
    }
    update = StepUpdate(
        "dream",
        {Target.parse("dream.controlnets[1].conditioning_scale"): 0.7, PROMPT: "neon"},
    )
    assert update.params(base) == {
        "controlnets": [
            {"model_id": "a", "conditioning_scale": 0.5},
            {"model_id": "b", "conditioning_scale": 0.7},
        ],
        "prompt": "neon",
    }
    assert base["controlnets"][1]["conditioning_scale"] == 0.1
    assert StepUpdate("fx", {BLUR: 2.0}).params() == {"5": {"blur_radius": 2.0}}
