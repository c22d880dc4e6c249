"""End to end: timelines on running flows through the reconciler, with real video.

A workflow input set by a cue changes the output from the scheduled frame on; editing the
timeline while the flow runs keeps its origin and recomputes every value; changing its
``restart`` token starts it over.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from pathlib import Path

import av
import numpy as np
import pytest
import torch

from rtcflow.reconcile.reconciler import Reconciler
from rtcflow.reconcile.watch import watch
from rtcflow.runtime.build import ComponentBuilder, RuntimeOptions
from tests.components import ADJUST, CollectingSink

SPEC = """\
apiVersion: rtcflow/v1
kind: Flow
metadata: {{name: show}}
spec:
  video: {{width: 64, height: 64, fps: 30}}
  source: {source}
  steps: [{{name: fx, workflow: {{file: fx.json}}}}]
  sinks: [{sinks}]
  timeline: {timeline}
"""


def write_spec(folder: Path, *, source: str, timeline: str, sinks: str = "") -> Path:
    spec = folder / "show.yaml"
    spec.write_text(SPEC.format(source=source, timeline=timeline, sinks=sinks))
    return spec


def write_still_clip(path: Path, size: int = 64, frames: int = 15) -> None:
    """A clip whose every frame is the same mid-grey gradient: brightness is measurable."""
    y, x = np.mgrid[0:size, 0:size]
    rgb = np.stack([x * 2 + 40, y * 2 + 40, np.full_like(x, 120)], axis=-1).astype(np.uint8)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=30)
        stream.width, stream.height, stream.pix_fmt = size, size, "yuv420p"
        for _ in range(frames):
            container.mux(stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")))
        container.mux(stream.encode(None))


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    (tmp_path / "fx.json").write_text(json.dumps(ADJUST))
    write_still_clip(tmp_path / "still.mp4")
    return tmp_path


def reconciler(spec: Path) -> Reconciler:
    return Reconciler([spec], ComponentBuilder(RuntimeOptions(device=torch.device("cpu"))))


async def test_a_cue_changes_the_recorded_video_at_its_frame(workdir: Path):
    spec = write_spec(
        workdir,
        source="{type: testsrc, realtime: false, duration: 2}",
        timeline="[{at: 1s, set: {fx.2.brightness: 0.0}}]",
        sinks="{name: record, type: file, path: out.mkv}",
    )
    run = reconciler(spec)
    await run.reconcile()
    assert run.apply_errors == {}
    flow = run.flows["show"]
    await flow.graph.wait()
    timeline = run.status()[0].graph["timeline"]
    await run.stop_all()

    with av.open(str(workdir / "out.mkv")) as container:
        means = [float(f.to_ndarray(format="rgb24").mean()) for f in container.decode(video=0)]
    assert len(means) == 60
    assert min(means[:30]) > 40, "colour bars up to pts 29"
    assert max(means[30:]) < 2, "black from pts 30 (1 s at 30 fps) on"
    assert timeline["values"] == {"fx.2.brightness": 0.0}
    assert timeline["cue_lag_frames"] == {"count": 1, "max": 0, "mean": 0.0}


class LiveShow:
    """A watched live flow with a probe sink that measures each frame's brightness."""

    def __init__(self, spec: Path) -> None:
        self.spec = spec
        self.reconciler = reconciler(spec)
        self.probe = CollectingSink(None)  # type: ignore[arg-type]
        self.stop = asyncio.Event()
        self.base = 0.0

    async def __aenter__(self) -> LiveShow:
        await self.reconciler.reconcile()
        self.graph = self.reconciler.flows["show"].graph
        self.graph.add_sink("probe", self.probe)
        self.watcher = asyncio.create_task(watch(self.reconciler, self.stop))
        await self.until(lambda: self.probe.frames)
        first = self.probe.frames[0]
        assert first.pts < 15, "the probe sees the flow before the first cue"
        self.base = float(first.data.float().mean())
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.stop.set()
        await self.watcher
        await self.reconciler.stop_all()

    def levels(self) -> dict[int, float]:
        """Brightness of each output frame by pts, relative to the unchanged first frame."""
        return {f.pts: float(f.data.float().mean()) / self.base for f in self.probe.frames}

    async def until(self, condition: Callable[[], object], timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            assert time.monotonic() < deadline, "condition not reached"
            await asyncio.sleep(0.02)

    def events(self) -> list[str]:
        return [event.reason for event in self.reconciler.events.for_flow("show", limit=100)]

    def lag(self) -> int:
        return self.reconciler.flows["show"].timeline.cue_lags[-1]  # type: ignore[union-attr]


def level(value: float) -> Callable[[float], bool]:
    return lambda measured: abs(measured - value) < 0.02


@pytest.mark.slow
async def test_editing_the_timeline_keeps_its_origin_and_a_new_token_restarts_it(workdir: Path):
    source = "{type: file, path: still.mp4, loop: true}"
    spec = write_spec(workdir, source=source, timeline="[{at: 0.5s, set: {fx.2.brightness: 0.5}}]")
    async with LiveShow(spec) as show:
        await show.until(lambda: any(map(level(0.5), show.levels().values())))
        halved = min(pts for pts, value in show.levels().items() if level(0.5)(value))
        assert halved == 15 + show.lag()

        # Edit: the past cue's new value applies now, the 6 s cue on the flow's own clock.
        spec.write_text(
            SPEC.format(
                source=source,
                sinks="",
                timeline="[{at: 0.5s, set: {fx.2.brightness: 0.25}}, "
                "{at: 6s, set: {fx.2.brightness: 0.0}}]",
            )
        )
        await show.until(lambda: "TimelineUpdated" in show.events())
        edited_at = show.probe.frames[-1].pts
        assert edited_at < 150, "the edit lands well before the 6 s cue"
        await show.until(lambda: any(map(level(0.0), show.levels().values())))
        levels = show.levels()
        dark = min(pts for pts, value in levels.items() if level(0.0)(value))
        assert dark == 180 + show.lag(), "due at 6 s of the flow's clock, not 6 s after the edit"
        quarter = [pts for pts, value in levels.items() if level(0.25)(value)]
        assert quarter and edited_at < min(quarter) <= edited_at + 30
        assert all(level(0.25)(levels[pts]) for pts in range(min(quarter), dark))

        # A new restart token: the timeline starts over at the next frame.
        spec.write_text(
            SPEC.format(
                source=source,
                sinks="",
                timeline="{restart: take-2, cues: [{at: 1s, set: {fx.2.brightness: 0.5}}]}",
            )
        )
        await show.until(lambda: "TimelineRestarted" in show.events())
        origin = show.reconciler.status()[0].graph["timeline"]["origin_tick"]
        assert origin > dark
        await show.until(lambda: show.probe.frames[-1].pts > origin + 40)
        levels = show.levels()
        again = min(p for p, v in levels.items() if p >= origin and level(0.5)(v))
        assert again == origin + 30 + show.lag()
        assert all(level(1.0)(levels[p]) for p in range(origin + 3, again))

        assert show.reconciler.flows["show"].graph is show.graph, "never restarted the flow"
        assert show.events().count("Started") == 1
        pts = [frame.pts for frame in show.probe.frames]
        assert pts == list(range(pts[0], pts[0] + len(pts))), "no output frame lost"
