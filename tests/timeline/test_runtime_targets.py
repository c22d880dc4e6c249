"""Checking timeline targets against the flow's steps: workflow inputs and Daydream params,
when a spec loads, in ``rtcflow validate``, and the ``rtcflow timeline`` command."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from rtcflow.cli import main
from rtcflow.daydream.params import parse_params
from rtcflow.daydream.spec import DaydreamStepSpec
from rtcflow.runtime.timeline_driver import daydream_param, timeline_problems, workflow_param
from rtcflow.runtime.workflow_step import load_compiled_workflow
from rtcflow.spec.loader import load_file
from rtcflow.spec.models import FlowBody, FlowTimelineSpec, WorkflowStepSpec
from rtcflow.spec.timeline import Target
from rtcflow.timeline import ParamInfo
from tests.components import REPO

SOFT_GLOW = REPO / "workflows" / "soft-glow.json"
SD_TURBO = {
    "model_id": "stabilityai/sd-turbo",
    "prompt": "a sunset",
    "controlnets": [
        {
            "model_id": "thibaud/controlnet-sd21-canny-diffusers",
            "conditioning_scale": 0.4,
            "preprocessor": "canny",
            "enabled": True,
        }
    ],
}


@pytest.fixture(scope="module")
def glow():
    return load_compiled_workflow(
        WorkflowStepSpec(name="fx", workflow={"file": SOFT_GLOW}), workspace=None
    )


def body(timeline: object) -> FlowBody:
    return FlowBody.model_validate(
        {
            "source": {"type": "testsrc"},
            "steps": [{"name": "fx", "workflow": {"file": str(SOFT_GLOW)}}],
            "timeline": timeline,
        }
    )


def test_workflow_inputs_take_what_their_node_declares(glow):
    info = {text: workflow_param(glow, Target.parse(text)) for text in ("fx.3.blend_factor",)}
    assert info["fx.3.blend_factor"] == ParamInfo("float", minimum=0.0, maximum=1.0)
    assert workflow_param(glow, Target.parse("fx.2.blur_radius")).type == "int"
    mode = workflow_param(glow, Target.parse("fx.3.blend_mode"))
    assert isinstance(mode, ParamInfo) and "screen" in (mode.choices or ())


def test_problems_name_the_target_and_what_is_wrong(glow):
    problems = timeline_problems(
        body(
            [
                {"at": 1, "set": {"fx.3.blend_factor": 1.5, "fx.9.x": 1, "fx.3.image1": 0}},
                {"at": 2, "set": {"fx.3.nope": 1, "fx.4.contrast": "high"}},
                {"at": 3, "set": {"fx.3": 1}},
            ]
        ),
        lambda spec: glow,
    )
    assert {problem.path: problem.message for problem in problems} == {
        "spec.timeline[0].set['fx.3.blend_factor']": "1.5 is outside fx.3.blend_factor's "
        "range [0.0, 1.0]",
        "spec.timeline[0].set['fx.9.x']": "workflow fx has no node '9' (nodes: 1, 2, 3, 4, 5)",
        "spec.timeline[0].set['fx.3.image1']": "node 3 (ImageBlend) takes 'image1' from "
        "node 1; only constant inputs can change",
        "spec.timeline[1].set['fx.3.nope']": "node 3 (ImageBlend): unknown input (the class "
        "takes: image1, image2, blend_factor, blend_mode)",
        "spec.timeline[1].set['fx.4.contrast']": "a string is not a number, which fx.4.contrast "
        "takes",
        "spec.timeline[2].set['fx.3']": "a workflow target is <step>.<node id>.<input>, not fx.3",
    }


def test_a_workflow_that_does_not_compile_skips_its_targets():
    assert timeline_problems(body([{"at": 1, "set": {"fx.9.x": 1}}]), lambda spec: None) == []


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("dream.prompt", ParamInfo("prompt")),
        ("dream.guidance_scale", ParamInfo("float")),
        ("dream.num_inference_steps", ParamInfo("int", minimum=1, maximum=100)),
        ("dream.controlnets[0].conditioning_scale", ParamInfo("float", minimum=0, maximum=1)),
        ("dream.prompt_interpolation_method", ParamInfo("string", choices=("linear", "slerp"))),
        ("dream.use_safety_checker", ParamInfo("boolean")),
        ("dream.width", "dream.width needs a pipeline reload (about 30 s without output); a "
         "timeline changes live params only"),
        ("dream.model_id", "dream.model_id needs a pipeline reload (about 30 s without "
         "output); a timeline changes live params only"),
        ("dream.controlnets[0].enabled", "dream.controlnets[0].enabled: of a ControlNet only "
         "conditioning_scale changes live"),
        ("dream.controlnets[1].conditioning_scale", "dream.controlnets[1].conditioning_scale: "
         "dream's params have no such list item"),
    ],
)  # fmt: skip
def test_daydream_params_hot_and_cold(target: str, expected: ParamInfo | str):
    assert daydream_param(parse_params(SD_TURBO), Target.parse(target)) == expected


def test_daydream_params_unknown_to_the_model():
    message = daydream_param(parse_params(SD_TURBO), Target.parse("dream.ip_adapter.scale"))
    assert isinstance(message, str)
    assert message.startswith("stabilityai/sd-turbo has no param 'ip_adapter' (live params: ")
    assert "guidance_scale" in message


def test_seed_takes_integers_so_random_draws_fit():
    info = daydream_param(parse_params(SD_TURBO), Target.parse("dream.seed"))
    assert isinstance(info, ParamInfo) and info.type == "int"


def test_a_daydream_step_spec_is_checked_against_its_declared_params():
    # Built unvalidated: the daydream step joins the spec's step union with its runtime.
    dream = DaydreamStepSpec.model_validate({"name": "dream", "daydream": {"params": SD_TURBO}})
    timeline = FlowTimelineSpec.model_validate(
        [{"at": 1, "set": {"dream.width": 768, "dream.prompt": "x"}}]
    )
    flow = FlowBody.model_construct(steps=[dream], timeline=timeline)
    (problem,) = timeline_problems(flow, lambda spec: None)
    assert problem.path == "spec.timeline[0].set['dream.width']"


# -- when specs load, in `rtcflow validate` and `rtcflow timeline` ---------------------


def write(folder: Path, timeline: str) -> Path:
    (folder / "fx.json").write_text(SOFT_GLOW.read_text())
    spec = folder / "show.yaml"
    spec.write_text(
        textwrap.dedent(
            """\
            apiVersion: rtcflow/v1
            kind: Flow
            metadata: {name: show}
            spec:
              source: {type: testsrc}
              steps: [{name: fx, workflow: {file: fx.json}}]
            """
        )
        + timeline
    )
    return spec


def test_an_unknown_step_is_a_spec_problem_at_its_line(tmp_path: Path):
    spec = write(tmp_path, "  timeline:\n    - {at: 1s, set: {fx.3.blend_factor: 1, dream.x: 1}}\n")
    (problem,) = load_file(spec).problems
    assert (problem.line, problem.column) == (8, 53)  # the value set on dream.x
    assert problem.field == "spec.timeline[0].set['dream.x']"
    assert problem.message == "no step named 'dream' (steps: fx)"


def test_validate_checks_targets_against_the_compiled_workflow(tmp_path: Path, capsys):
    spec = write(
        tmp_path,
        "  timeline:\n    tracks:\n      - track: fx.3.blend_mode\n"
        "        keys: [{at: 0, value: normal}, {at: 5s, value: loud}]\n",
    )
    assert main(["validate", str(spec)]) == 1
    out = capsys.readouterr().out
    assert f"{spec}:10:56: spec.timeline.tracks[0].keys[1].value: fx.3.blend_mode must be " in out
    assert (
        f"{spec}:10:40: spec.timeline.tracks[0].keys[1]: fx.3.blend_mode takes a plain "
        "string, which cannot crossfade"
    ) in out


def test_the_timeline_command_prints_the_cues_and_plots_the_curves(tmp_path: Path, capsys):
    spec = write(
        tmp_path,
        "  timeline:\n"
        "    - {at: 5s, set: {fx.3.blend_factor: 0.9}, ramp: 3s}\n"
        "    - {every: 10s, set: {fx.4.saturation: 'random(0.5, 2.0)'}}\n",
    )
    plot = tmp_path / "curves.png"
    assert main(["timeline", str(spec), "--plot", str(plot), "--duration", "25s"]) == 0
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if "fx." in line]
    assert [row.split("│")[1].strip() for row in rows] == [
        "0:00:05.000",
        "0:00:10.000",
        "0:00:20.000",
    ]
    assert "3s linear" in rows[0]
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert f"plotted {plot}" in out


def test_the_timeline_command_says_when_there_is_nothing_to_show(tmp_path: Path, capsys):
    spec = write(tmp_path, "")
    assert main(["timeline", str(spec)]) == 1
    assert "no timeline in" in capsys.readouterr().out
