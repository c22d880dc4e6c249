"""Checking targets and values against the flow through a resolver callback."""

from __future__ import annotations

from rtcflow.spec.timeline import Target, TimelineSpec
from rtcflow.timeline import ParamInfo, check_targets

DECLARED = {
    "dream.prompt": ParamInfo("prompt"),
    "dream.guidance_scale": ParamInfo("float", minimum=0.0, maximum=20.0),
    "dream.seed": ParamInfo("int", minimum=0),
    "dream.num_inference_steps": ParamInfo("int", minimum=1, maximum=100),
    "dream.controlnets[0].conditioning_scale": ParamInfo("float", minimum=0.0, maximum=1.0),
    "fx.5.blur_radius": ParamInfo("float", minimum=0.0, maximum=10.0),
    "fx.5.mode": ParamInfo("string", choices=("soft", "hard")),
    "fx.5.caption": ParamInfo("string"),
    "fx.5.enabled": ParamInfo("boolean"),
    "fx.5.anything": ParamInfo("any"),
}


class FakeFlow:
    """A resolver as the runtime will build one, with a record of what it was asked."""

    def __init__(self) -> None:
        self.asked: list[Target] = []

    def __call__(self, target: Target) -> ParamInfo | str:
        self.asked.append(target)
        if target.step not in ("dream", "fx"):
            return f"unknown step {target.step!r} (steps: dream, fx)"
        if target == Target.parse("dream.model_id"):
            return "dream.model_id needs a pipeline reload; timelines change live params only"
        return DECLARED.get(
            str(target), f"{target.step} has no parameter {str(target)[len(target.step) + 1 :]}"
        )


def problems(timeline: object, flow: FakeFlow | None = None) -> dict[str, str]:
    found = check_targets(TimelineSpec.model_validate(timeline), flow or FakeFlow())
    return {problem.path: problem.message for problem in found}


def test_a_valid_timeline_has_no_problems_and_asks_once_per_target() -> None:
    flow = FakeFlow()
    timeline = {
        "cues": [
            {"at": 0, "set": {"dream.prompt": "neon", "dream.guidance_scale": 2}, "ramp": 5},
            {
                "every": 60,
                "set": {"dream.seed": "random", "dream.num_inference_steps": "random(1, 50)"},
            },
            {"at": 9, "set": {"dream.prompt": [["a", 0.5], ["b", 0.5]], "fx.5.mode": "hard"}},
            {"at": 10, "set": {"fx.5.enabled": False, "fx.5.anything": {"x": [1]}}},
            {
                "at": 11,
                "set": {"fx.5.caption": "hi", "fx.5.enabled": True},
                "ramp": {"duration": 1, "easing": "step"},
            },
        ],
        "tracks": [
            {"track": "fx.5.blur_radius", "keys": [{"at": 0, "value": 0}, {"at": 5, "value": 2.5}]},
            {"track": "dream.controlnets[0].conditioning_scale", "keys": [{"at": 0, "value": 0.2}]},
        ],
    }
    assert problems(timeline, flow) == {}
    assert len(flow.asked) == len(set(flow.asked)) == 10


def test_resolver_errors_are_reported_at_the_target() -> None:
    assert problems(
        {
            "cues": [
                {"at": 0, "set": {"dream.prompt": "ok"}},
                {"at": 1, "set": {"dream.model_id": "x", "nope.x": 1}},
                {"at": 2, "set": {"dream.strength": 1}},
            ],
            "tracks": [{"track": "other.1.x", "keys": [{"at": 0, "value": 1}]}],
        }
    ) == {
        "spec.timeline.cues[1].set['dream.model_id']": "dream.model_id needs a pipeline reload; "
        "timelines change live params only",
        "spec.timeline.cues[1].set['nope.x']": "unknown step 'nope' (steps: dream, fx)",
        "spec.timeline.cues[2].set['dream.strength']": "dream has no parameter strength",
        "spec.timeline.tracks[0].track": "unknown step 'other' (steps: dream, fx)",
    }


def test_wrong_types_ranges_and_choices() -> None:
    found = problems(
        [
            {"at": 0, "set": {"dream.guidance_scale": "high", "dream.seed": 1.5}},
            {
                "at": 1,
                "set": {"dream.guidance_scale": 25, "dream.num_inference_steps": "random(0, 10)"},
            },
            {"at": 2, "set": {"dream.seed": "random(0.5, 2)", "fx.5.mode": "medium"}},
            {"at": 3, "set": {"fx.5.enabled": 1, "dream.prompt": 3, "fx.5.caption": "random"}},
        ]
    )
    assert found == {
        "spec.timeline[0].set['dream.guidance_scale']": "a string is not a number, "
        "which dream.guidance_scale takes",
        "spec.timeline[0].set['dream.seed']": "1.5 is not an integer, which dream.seed takes",
        "spec.timeline[1].set['dream.guidance_scale']": "25 is outside dream.guidance_scale's "
        "range [0.0, 20.0]",
        "spec.timeline[1].set['dream.num_inference_steps']": "0..10 is outside "
        "dream.num_inference_steps's range [1, 100]",
        "spec.timeline[2].set['dream.seed']": "random(0.5, 2) draws decimals; dream.seed takes an "
        "integer (use integer bounds)",
        "spec.timeline[2].set['fx.5.mode']": "fx.5.mode must be one of 'soft', 'hard'",
        "spec.timeline[3].set['fx.5.enabled']": "1 is not true or false, which fx.5.enabled takes",
        "spec.timeline[3].set['dream.prompt']": "3 is not a prompt (a string or [[prompt, weight], "
        "...]), which dream.prompt takes",
        "spec.timeline[3].set['fx.5.caption']": "random draws numbers; fx.5.caption takes a string",
    }


def test_ramps_on_values_that_cannot_ramp() -> None:
    found = problems(
        {
            "cues": [{"at": 0, "set": {"fx.5.caption": "x", "fx.5.enabled": True}, "ramp": 2}],
            "tracks": [
                {
                    "track": "fx.5.mode",
                    "keys": [
                        {"at": 0, "value": "soft"},
                        {"at": 2, "value": "hard", "easing": "ease-in"},
                        {"at": 4, "value": "soft", "easing": "step"},
                        {"at": 6, "value": "hard"},
                    ],
                }
            ],
        }
    )
    assert set(found) == {
        "spec.timeline.cues[0].ramp",
        "spec.timeline.tracks[0].keys[1].easing",
        "spec.timeline.tracks[0].keys[3]",
    }
    assert "cannot crossfade (only prompts can)" in found["spec.timeline.tracks[0].keys[1].easing"]


def test_list_shorthand_paths_use_the_list_position() -> None:
    assert problems(
        [
            {"at": 0, "set": {"dream.prompt": "ok"}},
            {"track": "fx.5.blur_radius", "keys": [{"at": 0, "value": "x"}]},
            {"at": 1, "set": {"dream.seed": "x"}},
        ]
    ) == {
        "spec.timeline[1].keys[0].value": "a string is not a number, which fx.5.blur_radius takes",
        "spec.timeline[2].set['dream.seed']": "a string is not an integer, which dream.seed takes",
    }


def test_problems_carry_a_loc_the_loader_can_map_to_the_yaml() -> None:
    (problem,) = check_targets(
        TimelineSpec.model_validate({"cues": [{"at": 0, "set": {"dream.seed": "x"}}]}),
        FakeFlow(),
        loc=("spec", "timeline"),
    )
    assert problem.loc == ("spec", "timeline", "cues", 0, "set", "dream.seed")
    assert str(problem) == (
        "spec.timeline.cues[0].set['dream.seed']: "
        "a string is not an integer, which dream.seed takes"
    )


def test_messages_never_show_string_values() -> None:
    secret = "sk-live-0123456789"
    found = problems(
        [
            {
                "at": 0,
                "set": {
                    "dream.guidance_scale": secret,
                    "fx.5.mode": secret,
                    "dream.seed": [secret],
                },
            }
        ]
    )
    assert len(found) == 3
    assert not any(secret in message for message in found.values())
