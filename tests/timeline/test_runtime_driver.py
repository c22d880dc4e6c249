"""The timeline driver on running steps: frame-exact workflow inputs, throttled Daydream
params, reloads that keep the origin, restarts, status and the tick prediction."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from fractions import Fraction
from typing import Any

import pytest
import torch

from rtcflow.daydream.params import BaseStreamDiffusionParams, merge_params, parse_params
from rtcflow.media.frame import VideoFrame
from rtcflow.runtime.flow import FlowGraph
from rtcflow.runtime.timeline_driver import ParamsStep, TickPredictor, TimelineDriver
from rtcflow.runtime.workflow_step import WorkflowStep
from rtcflow.spec.models import FlowTimelineSpec, VideoSpec, WorkflowStepSpec
from rtcflow.spec.timeline import Target
from rtcflow.timeline import TimelineError
from tests.components import ADJUST, CollectingSink, CountingSource

TB = Fraction(1, 30)
BRIGHTNESS = Target.parse("fx.2.brightness")
PROMPT = Target.parse("dream.prompt")


class ParamsRecorder:
    """Implements :class:`ParamsStep` as the Daydream step does (``params`` are the
    declared ones; a spec edit replaces them) and keeps every update as the PATCH body
    the step would send."""

    def __init__(self, params: Mapping[str, Any]) -> None:
        self.name = "dream"
        self._params = parse_params(params)
        self.updates: list[dict[str, Any]] = []

    @property
    def params(self) -> BaseStreamDiffusionParams:
        return self._params

    def declare(self, changes: Mapping[str, Any]) -> None:
        """A spec edit applied in place."""
        self._params = merge_params(self._params, changes)

    def update_params(self, changes: Mapping[str, Any]) -> None:
        self.updates.append(dict(changes))


def timeline(data: object) -> FlowTimelineSpec:
    return FlowTimelineSpec.model_validate(data)


def frame(pts: int, value: int = 100, time_base: Fraction = TB) -> VideoFrame:
    return VideoFrame(torch.full((4, 4, 3), value, dtype=torch.uint8), pts, time_base)


def drive(driver: TimelineDriver, ticks: range) -> None:
    """Frames through the hooks as a graph calls them, shown at the tick they were due."""
    for tick in ticks:
        shown = frame(tick)
        driver.before_steps(shown)
        driver.on_tick(tick, shown)


@pytest.fixture
async def fx(video: VideoSpec):
    step = WorkflowStep(
        WorkflowStepSpec(name="fx", workflow={"inline": ADJUST}), video, device=torch.device("cpu")
    )
    await step.start()
    yield step
    await step.close()


@pytest.fixture
def dream() -> ParamsRecorder:
    return ParamsRecorder(
        {"model_id": "stabilityai/sd-turbo", "prompt": "a sunset", "guidance_scale": 1.0}
    )


async def brightness_of(step: WorkflowStep) -> float:
    """What the step does to a frame of value 100 now: its brightness, measured."""
    out = await step.process(frame(0, 100))
    return float(out.data.float().mean()) / 100


# -- on a running graph ---------------------------------------------------------------


async def test_a_workflow_cue_changes_the_output_at_its_frame_in_a_batch_flow(video, fx):
    graph = FlowGraph("t", video, CountingSource(video, 45, live=False))
    sink = CollectingSink(video)
    await graph.start([fx], {"probe": sink})
    driver = TimelineDriver(timeline([{"at": "1s", "set": {"fx.2.brightness": 0.5}}]), [fx], TB)
    driver.attach(graph)
    await graph.wait()

    values = {f.pts: int(f.data[0, 0, 0]) for f in sink.frames}
    assert [values[pts] for pts in range(28, 32)] == [28, 29, 15, 16]  # halved from pts 30
    assert all(values[pts] == pts for pts in range(30))
    assert list(driver.cue_lags) == [0]


async def test_in_a_live_flow_the_measured_lag_is_where_the_change_shows(video, fx):
    graph = FlowGraph("t", video, CountingSource(video, 45, live=True))
    sink = CollectingSink(video)
    await graph.start([fx], {"probe": sink})
    driver = TimelineDriver(timeline([{"at": "1s", "set": {"fx.2.brightness": 0.0}}]), [fx], TB)
    driver.attach(graph)
    await graph.wait()

    first_black = min(f.pts for f in sink.frames if f.pts > 10 and int(f.data.max()) == 0)
    (lag,) = driver.cue_lags
    assert first_black == 30 + lag
    assert driver.status()["cue_lag_frames"]["count"] == 1


# -- workflow targets ----------------------------------------------------------------


async def test_the_initial_value_comes_from_the_workflow_and_a_ramp_sets_every_frame(fx):
    spec = timeline([{"at": "1s", "set": {"fx.2.brightness": 0.0}, "ramp": "1s"}])
    driver = TimelineDriver(spec, [fx], TB)
    assert driver.timeline.initial == {BRIGHTNESS: 1.0}
    drive(driver, range(0, 46))  # halfway through the ramp
    assert await brightness_of(fx) == pytest.approx(0.5, abs=0.01)
    drive(driver, range(46, 61))
    assert await brightness_of(fx) == 0.0


async def test_a_target_no_step_has_is_refused(fx):
    with pytest.raises(TimelineError, match=r"timeline\[0\]\.set\['fx.9.x'\]: workflow fx has no"):
        TimelineDriver(timeline([{"at": 1, "set": {"fx.9.x": 1}}]), [fx], TB)
    with pytest.raises(TimelineError, match="no step named 'dream'"):
        TimelineDriver(timeline([{"at": 1, "set": {"dream.prompt": "x"}}]), [fx], TB)


# -- Daydream targets ------------------------------------------------------------------


def test_a_prompt_ramp_is_a_throttled_crossfade_coalesced_into_one_update(dream):
    spec = timeline(
        [
            {
                "at": "1s",
                "set": {"dream.prompt": "neon city", "dream.guidance_scale": 3.0},
                "ramp": "2s",
            }
        ]
    )
    driver = TimelineDriver(spec, [dream], TB)
    drive(driver, range(0, 30))
    assert dream.updates == []  # nothing differs from the running params yet
    drive(driver, range(30, 121))

    assert 8 <= len(dream.updates) <= 9  # 2 s at 4 updates/s, plus the final value
    assert all(set(update) == {"prompt", "guidance_scale"} for update in dream.updates)
    middle = dream.updates[len(dream.updates) // 2]["prompt"]
    assert [text for text, _ in middle] == ["a sunset", "neon city"]
    assert sum(weight for _, weight in middle) == pytest.approx(1.0)
    assert dream.updates[-1] == {"prompt": "neon city", "guidance_scale": 3.0}


def test_after_a_spec_edit_the_timeline_value_is_sent_again(dream):
    spec = timeline([{"at": "1s", "set": {"dream.guidance_scale": 3.0}}])
    driver = TimelineDriver(spec, [dream], TB)
    drive(driver, range(0, 40))
    assert dream.updates == [{"guidance_scale": 3.0}]
    dream.declare({"guidance_scale": 5.0, "prompt": "rain"})  # PATCHed by the reconciler
    drive(driver, range(40, 60))
    assert dream.updates[1:] == [{"guidance_scale": 3.0}], "the timeline keeps winning"
    drive(driver, range(60, 90))
    assert len(dream.updates) == 2, "and only once"


def test_a_nested_target_sends_its_whole_top_level_param():
    dream = ParamsRecorder(
        {
            "model_id": "stabilityai/sd-turbo",
            "controlnets": [
                {
                    "model_id": "thibaud/controlnet-sd21-canny-diffusers",
                    "conditioning_scale": 0.2,
                    "preprocessor": "canny",
                    "enabled": True,
                }
            ],
        }
    )
    spec = timeline([{"at": 0, "set": {"dream.controlnets[0].conditioning_scale": 0.7}}])
    driver = TimelineDriver(spec, [dream], TB)
    drive(driver, range(0, 2))
    (update,) = dream.updates
    assert update["controlnets"][0]["conditioning_scale"] == 0.7
    assert update["controlnets"][0]["preprocessor"] == "canny"


def test_a_cold_daydream_param_is_refused(dream):
    with pytest.raises(TimelineError, match=r"dream\.width needs a pipeline reload"):
        TimelineDriver(timeline([{"at": 1, "set": {"dream.width": 768}}]), [dream], TB)
    assert isinstance(dream, ParamsStep)


# -- reload and restart ----------------------------------------------------------------


async def test_an_edited_timeline_keeps_the_origin_and_recomputes_every_value(fx, dream):
    first = timeline(
        [
            {"at": "1s", "set": {"fx.2.brightness": 0.5}},
            {"at": "2s", "set": {"dream.prompt": "forest"}},
            {"at": "5s", "set": {"dream.prompt": "desert"}},
        ]
    )
    driver = TimelineDriver(first, [fx, dream], TB)
    drive(driver, range(0, 91))  # 3 s in
    assert dream.updates == [{"prompt": "forest"}]

    edited = timeline(
        [
            {"at": "1s", "set": {"fx.2.brightness": 0.25}},  # in the past: its value now holds
            {"at": "4s", "set": {"fx.2.brightness": 1.5}},
            {"at": "2s", "set": {"dream.prompt": "forest"}},  # unchanged: not sent again
        ]
    )
    driver.update(edited, [fx, dream])
    assert await brightness_of(fx) == pytest.approx(0.25, abs=0.01)
    assert driver.playhead.position == pytest.approx(3.0)

    drive(driver, range(91, 120))
    assert await brightness_of(fx) == pytest.approx(0.25, abs=0.01)
    drive(driver, range(120, 121))  # 4 s from the flow's origin, not from the edit
    assert await brightness_of(fx) == pytest.approx(1.5, abs=0.01)
    drive(driver, range(121, 200))
    assert dream.updates == [{"prompt": "forest"}]  # the 5 s cue is gone with the edit


async def test_a_restart_starts_the_timeline_over_at_the_next_frame(fx):
    spec = timeline([{"at": "1s", "set": {"fx.2.brightness": 0.5}}])
    driver = TimelineDriver(spec, [fx], TB)
    drive(driver, range(0, 91))
    assert await brightness_of(fx) == pytest.approx(0.5, abs=0.01)

    driver.update(spec, [fx], restart=True)
    assert driver.origin_tick == 91
    assert await brightness_of(fx) == 1.0  # back to the workflow's own value
    drive(driver, range(91, 121))
    assert await brightness_of(fx) == 1.0
    drive(driver, range(121, 122))
    assert await brightness_of(fx) == pytest.approx(0.5, abs=0.01)
    assert driver.status()["position"] == pytest.approx(1.0)


async def test_an_update_that_does_not_resolve_changes_nothing(fx, video):
    driver = TimelineDriver(timeline([{"at": 1, "set": {"fx.2.brightness": 0.5}}]), [fx], TB)
    drive(driver, range(0, 40))
    with pytest.raises(TimelineError, match="has no node '7'"):
        driver.update(timeline([{"at": 2, "set": {"fx.7.brightness": 0.1}}]), [fx])
    assert driver.timeline.targets == (BRIGHTNESS,)
    drive(driver, range(40, 41))
    assert await brightness_of(fx) == pytest.approx(0.5, abs=0.01)


# -- status and clock ------------------------------------------------------------------


def test_status_shows_position_values_and_the_next_cue(dream):
    origin = datetime(2030, 1, 1, 20, 59, tzinfo=UTC)
    spec = timeline(
        {
            "cues": [
                {"at": "10s", "set": {"dream.guidance_scale": 2.0}, "ramp": "1s"},
                {"cron": "0 21 * * *", "timezone": "UTC", "set": {"dream.prompt": "night"}},
            ]
        }
    )
    driver = TimelineDriver(spec, [dream], TB, clock=lambda: origin)
    drive(driver, range(0, 151))
    status = driver.status()
    assert status["position"] == pytest.approx(5.0)
    assert status["values"] == {"dream.guidance_scale": 1.0, "dream.prompt": "a sunset"}
    assert [(c["at"], c["target"], c["ramp"]) for c in status["next_cue"]] == [
        (10.0, "dream.guidance_scale", 1.0)
    ]
    drive(driver, range(151, 1801))  # one minute: the cron cue at 21:00
    assert driver.status()["values"]["dream.prompt"] == "night"
    assert driver.status()["origin"] == origin.isoformat()


async def test_an_hour_of_ntsc_frames_does_not_drift(fx):
    """At 29.97 fps a cue at 1h is due on the first frame at or after 3600 s: 107893."""
    tb = Fraction(1001, 30000)
    driver = TimelineDriver(timeline([{"at": "1h", "set": {"fx.2.brightness": 0.5}}]), [fx], tb)
    for tick in range(107_893):
        driver.before_steps(frame(tick, time_base=tb))
    assert driver.playhead.values[BRIGHTNESS] == 1.0
    driver.before_steps(frame(107_893, time_base=tb))
    assert driver.playhead.values[BRIGHTNESS] == 0.5


def test_the_predictor_follows_batch_resampling_and_learns_the_lead():
    predictor = TickPredictor(TB)
    source = Fraction(1, 25)  # a 25 fps file into a 30 fps flow: the output repeats frames
    ticks = [predictor.predict(frame(pts, time_base=source)) for pts in range(6)]
    assert ticks == [0, 2, 3, 4, 5, 6]  # ceil(pts * 30/25): when the batch output shows it

    live = TickPredictor(TB)
    assert live.predict(frame(0)) == 0
    assert live.observe(frame(0), 2) == 0  # shown two ticks later than thought
    assert live.predict(frame(1)) == 3
    assert live.observe(frame(1), 3) == 3
    assert live.observe(frame(1), 4) is None  # a repeat is not a first showing
    assert live.lead == 2


def test_frames_in_flight_do_not_correct_the_lead_twice():
    predictor = TickPredictor(TB)
    assert [predictor.predict(frame(pts)) for pts in range(3)] == [0, 1, 2]
    predictor.observe(frame(0), 1)  # the output is one tick later than predicted
    predictor.observe(frame(1), 2)  # predicted before the correction: as late, no news
    predictor.observe(frame(2), 3)
    assert predictor.lead == 1
    assert predictor.predict(frame(3)) == 4


def test_the_predictor_continues_across_a_source_that_starts_over():
    predictor = TickPredictor(TB)
    assert [predictor.predict(frame(pts)) for pts in range(3)] == [0, 1, 2]
    assert predictor.predict(frame(0)) == 3  # a replaced source: pts from 0 again
    assert predictor.predict(frame(1)) == 4
    assert predictor.predict(frame(1000)) == 5  # a jump of over a second
