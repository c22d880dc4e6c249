"""End to end: real encoded video through `rtcflow apply`, and live reload scenarios."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import av
import numpy as np
import pytest
import torch

from rtcflow.reconcile.reconciler import Reconciler
from rtcflow.reconcile.watch import watch
from rtcflow.runtime.build import ComponentBuilder, RuntimeOptions
from tests.components import REPO, CollectingSink

CLIP = REPO / "examples" / "media" / "clip.mp4"
INVERT = json.loads((REPO / "workflows" / "invert.json").read_text())
PASSTHROUGH = {
    "1": {"class_type": "LoadTensor", "inputs": {}},
    "2": {"class_type": "SaveTensor", "inputs": {"images": ["1", 0]}},
}


def reference_frames(count: int, size: int = 64) -> list[np.ndarray]:
    """The clip's first frames scaled like the flow scales them (cover-fit, centre crop)."""
    frames = []
    with av.open(str(CLIP)) as container:
        for frame in container.decode(video=0):
            w, h = frame.width, frame.height
            scale = size / min(w, h)
            sw, sh = round(w * scale), round(h * scale)
            rgb = frame.reformat(width=sw, height=sh, format="rgb24").to_ndarray()
            top, left = (sh - size) // 2, (sw - size) // 2
            frames.append(rgb[top : top + size, left : left + size].astype(np.int16))
            if len(frames) == count:
                break
    return frames


def decode_file(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        return [f.to_ndarray(format="rgb24").astype(np.int16) for f in container.decode(video=0)]


def write_spec(folder: Path, body: str) -> Path:
    spec = folder / "flow.yaml"
    spec.write_text(textwrap.dedent(body))
    return spec


def write_still_clip(path: Path, size: int = 64, frames: int = 15) -> None:
    """A clip whose every frame is the same gradient, so any output frame can be checked."""
    y, x = np.mgrid[0:size, 0:size]
    rgb = np.stack([x * 4, y * 4, np.full_like(x, 200)], axis=-1).astype(np.uint8)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=30)
        stream.width, stream.height, stream.pix_fmt = size, size, "yuv420p"
        for _ in range(frames):
            container.mux(stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")))
        container.mux(stream.encode(None))


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    shutil.copy(CLIP, tmp_path / "clip.mp4")
    write_still_clip(tmp_path / "still.mp4")
    (tmp_path / "fx.json").write_text(json.dumps(INVERT))
    return tmp_path


def test_apply_inverts_real_video_end_to_end(workdir: Path):
    spec = write_spec(
        workdir,
        """\
        apiVersion: rtcflow/v1
        kind: Flow
        metadata: {name: batch}
        spec:
          video: {width: 64, height: 64, fps: 30}
          source: {type: file, path: clip.mp4, realtime: false}
          steps: [{name: fx, workflow: {file: fx.json}}]
          sinks: [{name: out, type: file, path: out.mkv}]
        """,
    )
    result = subprocess.run(
        [sys.executable, "-m", "rtcflow.cli", "apply", str(spec), "--no-watch"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    output = decode_file(workdir / "out.mkv")
    source = reference_frames(len(output))
    assert len(output) == len(source) > 30
    for got, original in zip(output[:30], source[:30], strict=True):
        # inverted within H.264 tolerance, and clearly not the original
        assert np.abs(got - (255 - original)).mean() < 12
        assert np.abs(got - original).mean() > 40


def test_bad_spec_is_reported_with_location(workdir: Path):
    spec = write_spec(
        workdir,
        """\
        apiVersion: rtcflow/v1
        kind: Flow
        metadata: {name: bad}
        spec:
          source: {type: nosuch}
        """,
    )
    result = subprocess.run(
        [sys.executable, "-m", "rtcflow.cli", "validate", str(spec)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert f"{spec}:5:" in result.stdout + result.stderr
    assert "spec.source" in result.stdout + result.stderr


# -- live reload, in process --------------------------------------------------------------

LIVE_SPEC = """\
apiVersion: rtcflow/v1
kind: Flow
metadata: {{name: live}}
spec:
  video: {{width: 64, height: 64, fps: 30}}
  source: {{type: file, path: still.mp4, loop: true}}
  steps: [{{name: fx, workflow: {{file: fx.json}}}}]
  sinks: [{sinks}]
"""


class LiveRun:
    """A reconciler watching ``spec`` with a probe sink attached to the running flow."""

    def __init__(self, spec: Path) -> None:
        options = RuntimeOptions(device=torch.device("cpu"))
        self.reconciler = Reconciler([spec], ComponentBuilder(options))
        self.stop = asyncio.Event()
        self.probe = CollectingSink(None)  # type: ignore[arg-type]

    async def __aenter__(self) -> LiveRun:
        await self.reconciler.reconcile()
        self.reconciler.flows["live"].graph.add_sink("probe", self.probe)
        self.watcher = asyncio.create_task(watch(self.reconciler, self.stop))
        await self.frames(5)
        return self

    async def __aexit__(self, *exc) -> None:
        self.stop.set()
        await self.watcher
        await self.reconciler.stop_all()

    async def frames(self, count: int, timeout: float = 20) -> list:
        start = len(self.probe.frames)
        deadline = time.monotonic() + timeout
        while len(self.probe.frames) < start + count:
            assert time.monotonic() < deadline, "output stalled"
            await asyncio.sleep(0.02)
        return self.probe.frames[start:]

    async def until(self, predicate, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            assert time.monotonic() < deadline, "condition not reached"
            await asyncio.sleep(0.05)

    def latest_is_inverted(self) -> bool:
        frame = self.probe.frames[-1]
        original = self.reconciler.flows["live"].graph._last_input
        diff = (frame.data.int() - (255 - original.data.int())).abs().float().mean()
        return bool(diff < 3.0)


@pytest.mark.slow
async def test_editing_the_workflow_swaps_it_live_without_gaps(workdir: Path):
    spec = workdir / "flow.yaml"
    spec.write_text(LIVE_SPEC.format(sinks=""))
    async with LiveRun(spec) as run:
        assert run.latest_is_inverted()
        before = len(run.probe.frames)
        (workdir / "fx.json").write_text(json.dumps(PASSTHROUGH))
        await run.until(lambda: not run.latest_is_inverted())
        events = [e.reason for e in run.reconciler.events.all()]
        assert "StepsSwapped" in events
        frames = run.probe.frames[before:]
        pts = [f.pts for f in frames]
        assert pts == list(range(pts[0], pts[0] + len(pts))), "no output tick lost"


@pytest.mark.slow
async def test_broken_spec_keeps_flow_running_until_fixed(workdir: Path):
    spec = workdir / "flow.yaml"
    spec.write_text(LIVE_SPEC.format(sinks=""))
    async with LiveRun(spec) as run:
        graph = run.reconciler.flows["live"].graph
        spec.write_text(LIVE_SPEC.format(sinks="").replace("fps: 30}", "fps: 30"))
        await run.until(lambda: run.reconciler.problems)
        (problem,) = run.reconciler.problems[spec.resolve()] or run.reconciler.problems[spec]
        assert str(problem).startswith(f"{spec}:")
        await run.frames(10)  # still producing
        assert run.reconciler.flows["live"].graph is graph
        status = {s.name: s for s in run.reconciler.status()}["live"]
        assert status.conditions.degraded and status.spec_problems
        # fix it with a real change: the flow is updated, not restarted
        spec.write_text(LIVE_SPEC.format(sinks="{name: rec, type: file, path: rec.mkv}"))
        await run.until(lambda: "rec" in graph.sinks)
        assert run.reconciler.flows["live"].graph is graph
        assert not run.reconciler.problems


@pytest.mark.slow
async def test_adding_and_removing_a_sink_touches_only_that_sink(workdir: Path):
    spec = workdir / "flow.yaml"
    spec.write_text(LIVE_SPEC.format(sinks="{name: a, type: file, path: a.mkv}"))
    async with LiveRun(spec) as run:
        graph = run.reconciler.flows["live"].graph
        runner_a = graph.sinks["a"]
        spec.write_text(
            LIVE_SPEC.format(
                sinks="{name: a, type: file, path: a.mkv}, {name: b, type: file, path: b.mkv}"
            )
        )
        await run.until(lambda: "b" in graph.sinks and graph.sinks["b"].frames_written > 10)
        assert graph.sinks["a"] is runner_a, "sink a was not restarted"
        spec.write_text(LIVE_SPEC.format(sinks="{name: a, type: file, path: a.mkv}"))
        await run.until(lambda: "b" not in graph.sinks)
        assert len(decode_file(workdir / "b.mkv")) > 10, "removed sink finalized its file"
        assert graph.sinks["a"] is runner_a


@pytest.mark.slow
async def test_invalid_workflow_edit_keeps_previous_chain(workdir: Path):
    spec = workdir / "flow.yaml"
    spec.write_text(LIVE_SPEC.format(sinks=""))
    async with LiveRun(spec) as run:
        broken = dict(INVERT)
        broken["9"] = {"class_type": "NoSuchNode", "inputs": {}}
        (workdir / "fx.json").write_text(json.dumps(broken))
        await run.until(lambda: run.reconciler.apply_errors.get("live"))
        error = run.reconciler.apply_errors["live"]
        assert "NoSuchNode" in error and "9" in error
        await run.frames(10)
        assert run.latest_is_inverted(), "the previous workflow still runs"


def test_env_file_is_not_required(workdir: Path):
    # guards the README's main job: show.yaml validates on a fresh checkout
    result = subprocess.run(
        [sys.executable, "-m", "rtcflow.cli", "validate", str(REPO / "specs" / "show.yaml")],
        capture_output=True,
        text=True,
        timeout=60,
        env={k: v for k, v in os.environ.items() if k != "RTCFLOW_DEBUG"},
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_validate_reports_workflow_problems_at_the_step(workdir: Path):
    broken = dict(INVERT)
    broken["9"] = {"class_type": "NoSuchNode", "inputs": {}}
    (workdir / "fx.json").write_text(json.dumps(broken))
    spec = workdir / "flow.yaml"
    spec.write_text(LIVE_SPEC.format(sinks=""))
    result = subprocess.run(
        [sys.executable, "-m", "rtcflow.cli", "validate", str(spec)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    line = next(x for x in result.stdout.splitlines() if x.startswith(f"{spec}:7:"))
    assert "spec.steps[0].workflow" in line and "NoSuchNode" in result.stdout


@pytest.mark.slow
def test_ctrl_c_stops_cleanly_with_the_file_finalized(workdir: Path):
    import signal

    spec = workdir / "flow.yaml"
    spec.write_text(LIVE_SPEC.format(sinks="{name: rec, type: file, path: rec.mkv}"))
    process = subprocess.Popen(
        [sys.executable, "-m", "rtcflow.cli", "apply", str(spec)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not (workdir / "rec.mkv").exists() or (workdir / "rec.mkv").stat().st_size < 20_000:
            assert time.monotonic() < deadline and process.poll() is None
            time.sleep(0.1)
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 0, output
    with av.open(str(workdir / "rec.mkv")) as container:
        assert container.duration is not None, "Matroska header finalized on stop"
        frames = sum(1 for _ in container.decode(video=0))
    assert frames > 10
