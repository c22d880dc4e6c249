"""Cue jitter on a running 30 fps flow: frames between a cue's due frame and the first
output frame that shows it, for a workflow input.

A live flow (a paced constant source → a real workflow step → the output clock → a
collecting sink) runs a timeline that toggles ``RtcflowColorAdjust.brightness`` every
0.5 s. The lag of each cue is read from the output pixels:

- ``driver`` (rtcflow): :class:`TimelineDriver` sets the input in the chain for the tick
  it predicts the frame will be shown at (target: 0 frames);
- ``apply_at_output`` (the plain baseline, same run): the same playhead advanced by the
  output clock's tick hook, setting the input when the cue's frame goes out.

Each mode runs twice: steady, and with a step before the workflow that takes a random
0-45 ms per frame (so the live output repeats and drops frames). Also the per-frame cost of
the driver's two hooks against the baseline's one.
Run: ``python -m tests.benchmarks.bench_timeline_jitter [--seconds 10]``; results are
saved to ``bench-results/timeline_jitter.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import time
from collections.abc import AsyncIterator
from fractions import Fraction
from pathlib import Path
from typing import Any

import torch

from rtcflow.media.frame import VideoFrame
from rtcflow.media.timing import Pacer
from rtcflow.runtime.flow import FlowGraph, start_steps
from rtcflow.runtime.timeline_driver import TimelineDriver
from rtcflow.runtime.workflow_step import WorkflowStep
from rtcflow.sources.base import Source
from rtcflow.spec.models import FlowTimelineSpec, VideoSpec, WorkflowStepSpec
from rtcflow.timeline import Timeline
from tests.components import ADJUST, CollectingSink

FPS = 30
GREY = 128
VIDEO = VideoSpec(width=64, height=64, fps=FPS)
# Brightness 0.5 at 0.5 s, 1.5 s, ...; 1.0 at 1 s, 2 s, ...
TOGGLE = {
    "cues": [
        {"every": "1s", "start": "0.5s", "set": {"fx.2.brightness": 0.5}},
        {"every": "1s", "start": "1s", "set": {"fx.2.brightness": 1.0}},
    ]
}
RESULTS = Path("bench-results")


class SteadySource(Source):
    """Live grey frames at the flow's rate (every frame identical: brightness is visible)."""

    live = True

    def __init__(self) -> None:
        super().__init__(None, VIDEO)

    async def frames(self) -> AsyncIterator[VideoFrame]:
        pacer = Pacer()
        data = torch.full((VIDEO.height, VIDEO.width, 3), GREY, dtype=torch.uint8)
        index = 0
        while True:
            await pacer.wait(index / FPS)
            yield VideoFrame(data, index, Fraction(1, FPS))
            index += 1


class JitterStep:
    """Passes frames through after a random 0-45 ms (seeded): processing time that varies."""

    name = "jitter"

    def __init__(self) -> None:
        self.random = random.Random(7)

    async def start(self) -> None:
        pass

    async def process(self, frame: VideoFrame) -> VideoFrame:
        await asyncio.sleep(self.random.uniform(0.0, 0.045))
        return frame

    async def close(self) -> None:
        pass

    def status(self) -> dict[str, Any]:
        return {}


class ApplyAtOutput:
    """The baseline: the playhead follows the output clock and sets inputs at once."""

    def __init__(self, spec: FlowTimelineSpec, step: WorkflowStep) -> None:
        self.playhead = Timeline(spec, initial={"fx.2.brightness": 1.0}).playhead()
        self.step = step

    def on_tick(self, tick: int, frame: VideoFrame) -> None:
        for target, value in self.playhead.advance(tick / FPS).changed.items():
            node_id, name = target.path
            self.step.set_input(str(node_id), str(name), value)


def _cue_lags(levels: dict[int, float], seconds: float) -> list[int]:
    """For each cue: first tick (from a few before due) showing its level, minus the due tick."""
    lags = []
    for half in range(1, int(seconds * 2)):
        due = half * FPS // 2
        want = 0.5 if half % 2 else 1.0
        shown = [
            tick
            for tick in range(due - 5, due + FPS // 2)
            if tick in levels
            and abs(levels[tick] - want) < 0.02
            and abs(levels.get(tick - 1, want) - want) >= 0.02
        ]
        if shown and due + FPS // 2 in levels:
            lags.append(shown[0] - due)
    return lags


async def _run_flow(mode: str, seconds: float, *, jitter: bool) -> dict[str, Any]:
    spec = FlowTimelineSpec.model_validate(TOGGLE)
    step = WorkflowStep(
        WorkflowStepSpec(name="fx", workflow={"inline": ADJUST}), VIDEO, device=torch.device("cpu")
    )
    graph = FlowGraph(mode, VIDEO, SteadySource())
    sink = CollectingSink(VIDEO)
    steps = [JitterStep(), step] if jitter else [step]
    await start_steps(steps)
    await graph.start(steps, {"probe": sink})
    if mode == "driver":
        driver = TimelineDriver(spec, [step], graph.time_base)
        driver.attach(graph)
    else:
        graph.on_tick = ApplyAtOutput(spec, step).on_tick
    while not sink.frames or sink.frames[-1].pts < seconds * FPS:
        await asyncio.sleep(0.05)
    await graph.stop()
    levels = {f.pts: float(f.data.float().mean()) / GREY for f in sink.frames}
    lags = _cue_lags(levels, seconds)
    counters = graph.counters()
    return {
        "cues": len(lags),
        "lag_frames_mean": statistics.fmean(lags) if lags else None,
        "lag_frames_max": max(lags, default=None),
        "exact_share": sum(lag == 0 for lag in lags) / len(lags) if lags else None,
        "lags": lags,
        "frames_repeated": counters.frames_repeated,
        "frames_dropped": counters.frames_dropped,
        **(
            {"driver_measured_lags": list(driver.cue_lags)}  # what status reports
            if mode == "driver"
            else {}
        ),
    }


def _hook_ns_per_frame(frames: int = 30_000) -> dict[str, float]:
    """Per-frame cost of the hooks alone (no graph), best of three."""
    spec = FlowTimelineSpec.model_validate(TOGGLE)
    step = WorkflowStep(
        WorkflowStepSpec(name="fx", workflow={"inline": ADJUST}), VIDEO, device=torch.device("cpu")
    )
    asyncio.run(step.start())
    data = torch.zeros((2, 2, 3), dtype=torch.uint8)
    shown = [VideoFrame(data, tick, Fraction(1, FPS)) for tick in range(frames)]

    def best(run_once) -> float:
        times = []
        for _ in range(3):
            start = time.perf_counter_ns()
            run_once()
            times.append((time.perf_counter_ns() - start) / frames)
        return min(times)

    def driver() -> None:
        hooks = TimelineDriver(spec, [step], Fraction(1, FPS))
        for tick, frame in enumerate(shown):
            hooks.before_steps(frame)
            hooks.on_tick(tick, frame)

    def baseline() -> None:
        hook = ApplyAtOutput(spec, step)
        for tick, frame in enumerate(shown):
            hook.on_tick(tick, frame)

    return {"driver": best(driver), "apply_at_output": best(baseline)}


def run(seconds: float = 10.0) -> dict[str, Any]:
    """Both modes on a live flow for ``seconds``; saved to bench-results/timeline_jitter.json."""
    flows = {
        f"{mode}{'_under_jitter' if jitter else ''}": asyncio.run(
            _run_flow(mode, seconds, jitter=jitter)
        )
        for jitter in (False, True)
        for mode in ("driver", "apply_at_output")
    }
    hooks = _hook_ns_per_frame()

    def ratio(suffix: str) -> float | None:
        ours = flows[f"driver{suffix}"]["lag_frames_mean"]
        plain = flows[f"apply_at_output{suffix}"]["lag_frames_mean"]
        return ours / plain if ours is not None and plain else None

    result = {
        "fps": FPS,
        "seconds": seconds,
        "flows": flows,
        "lag_frames_mean_ratio_to_baseline": {
            "steady": ratio(""),
            "jitter": ratio("_under_jitter"),
        },
        "hook_ns_per_frame": hooks,
        "hook_cost_ratio_to_baseline": hooks["driver"] / hooks["apply_at_output"],
        "hook_budget_share_at_30fps": hooks["driver"] * FPS / 1e9,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "timeline_jitter.json").write_text(json.dumps(result, indent=2) + "\n")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="stream time per flow")
    result = run(parser.parse_args().seconds)
    print(f"cue lag on a live {FPS} fps flow, {result['seconds']:.0f} s per mode (frames):")
    for mode, flow in result["flows"].items():
        print(
            f"  {mode:29s} mean {flow['lag_frames_mean']:.2f}  max {flow['lag_frames_max']}  "
            f"exact {flow['exact_share']:.0%} of {flow['cues']} cues  "
            f"(repeated {flow['frames_repeated']}, dropped {flow['frames_dropped']})"
        )
    for case, ratio in result["lag_frames_mean_ratio_to_baseline"].items():
        shown = "-" if ratio is None else f"{ratio:.2f}"
        print(f"  mean lag ratio driver/baseline, {case}: {shown}")
    hooks = result["hook_ns_per_frame"]
    print(
        f"hooks per frame: driver {hooks['driver'] / 1000:.1f} µs, baseline "
        f"{hooks['apply_at_output'] / 1000:.1f} µs ({result['hook_cost_ratio_to_baseline']:.1f}x)"
    )
    print(f"saved {RESULTS / 'timeline_jitter.json'}")


if __name__ == "__main__":
    main()
