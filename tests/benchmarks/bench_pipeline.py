"""Foundation benchmarks: whole-flow throughput, workflow swaps, memory.

- ``throughput``: file → invert → file, 512x512, a 30 s clip decoded as fast as possible,
  through rtcflow's graph, against a minimal hand-written PyAV + torch loop doing the
  same decode/convert/invert/encode in the same run (target: >= 0.9x the baseline fps).
- ``swaps``: 20 workflow swaps during a live 30 fps run: the largest gap between output
  frames (target <= 2 frame intervals) and output frames lost (target 0).
- ``live``: a live 30 fps flow (the example clip looped → invert → file) for 10 s:
  frames dropped and repeated, and processing latency, against the same flow without
  the workflow step (the plain source → sink path) in the same run.
- ``memory``: peak RSS of one live 512x512 flow, against the same process idle.

Run: ``python -m tests.benchmarks.bench_pipeline [--seconds 30]``.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import subprocess
import sys
import time
from pathlib import Path

import av
import numpy as np
import torch

from rtcflow.media.frame import VideoFrame
from rtcflow.runtime.build import ComponentBuilder, RuntimeOptions, configure_torch
from rtcflow.runtime.flow import FlowGraph, start_steps
from rtcflow.sinks.base import Sink
from rtcflow.spec.models import (
    FileSinkSpec,
    FileSourceSpec,
    TestSourceSpec,
    VideoSpec,
    WorkflowStepSpec,
)

RESULTS = Path("bench-results")
VIDEO = VideoSpec(width=512, height=512, fps=30)


def make_clip(path: Path, seconds: int) -> Path:
    """A 640x360 H.264 clip of moving gradients (scaled and cropped by the flow)."""
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=30)
        stream.width, stream.height, stream.pix_fmt = 640, 360, "yuv420p"
        y, x = np.mgrid[0:360, 0:640]
        for i in range(seconds * 30):
            rgb = np.stack(
                [(x + 4 * i) % 256, (y + 2 * i) % 256, ((x + y) // 2 + i) % 256], axis=-1
            ).astype(np.uint8)
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path


def baseline(clip: Path, out: Path) -> tuple[int, float]:
    """The plain loop: decode, scale, to torch, invert, encode — one thread, no graph."""
    start = time.perf_counter()
    frames = 0
    with av.open(str(clip)) as source, av.open(str(out), "w") as sink:
        stream = sink.add_stream("libx264", rate=30)
        stream.width, stream.height, stream.pix_fmt = VIDEO.width, VIDEO.height, "yuv420p"
        stream.options = {
            "preset": "veryfast",
            "tune": "zerolatency",
            "x264-params": "keyint=30:min-keyint=30:scenecut=0:bframes=0",
        }
        stream.bit_rate = 2_000_000
        for frame in source.decode(video=0):
            # cover-fit 640x360 → 910x512, then centre-crop 512x512
            scaled = frame.reformat(width=910, height=512, format="rgb24")
            pixels = torch.from_numpy(scaled.to_ndarray())[:, 199:711]
            inverted = (255 - pixels).contiguous().numpy()
            encoded = av.VideoFrame.from_ndarray(inverted, format="rgb24")
            encoded.pts = frames
            sink.mux(stream.encode(encoded))
            frames += 1
        sink.mux(stream.encode(None))
    return frames, time.perf_counter() - start


async def rtcflow_run(clip: Path, out: Path) -> tuple[int, float]:
    builder = ComponentBuilder(RuntimeOptions(device=torch.device("cpu")))
    source = builder.source(FileSourceSpec(type="file", path=clip, realtime=False), _body())
    graph = FlowGraph("bench", VIDEO, source)
    step = builder.step(WorkflowStepSpec(name="fx"), _body())
    sink = builder.sink(FileSinkSpec(type="file", name="out", path=out), _body())
    start = time.perf_counter()
    await start_steps([step])
    await graph.start([step], {"out": sink})
    await graph.wait()
    elapsed = time.perf_counter() - start
    return graph.counters().frames_out, elapsed


def _body():
    from rtcflow.spec.models import FlowBody

    return FlowBody(video=VIDEO, source=TestSourceSpec(type="testsrc"))


def throughput(seconds: int) -> dict:
    clip = make_clip(RESULTS / f"clip-{seconds}s.mp4", seconds)
    base_frames, base_time = baseline(clip, RESULTS / "baseline-out.mkv")
    ours_frames, ours_time = asyncio.run(rtcflow_run(clip, RESULTS / "rtcflow-out.mkv"))
    base_fps, ours_fps = base_frames / base_time, ours_frames / ours_time
    return {
        "frames": {"baseline": base_frames, "rtcflow": ours_frames},
        "fps": {"baseline": round(base_fps, 1), "rtcflow": round(ours_fps, 1)},
        "ratio": round(ours_fps / base_fps, 3),
        "target": ">= 0.9",
    }


class ArrivalSink(Sink):
    """Records when each output frame arrives (a real sink, used as a probe)."""

    def __init__(self) -> None:
        super().__init__(None, VIDEO)
        self.arrivals: list[tuple[float, int]] = []

    async def write(self, frame: VideoFrame) -> None:
        self.arrivals.append((time.perf_counter(), frame.pts))


async def swap_run(swaps: int) -> dict:
    builder = ComponentBuilder(RuntimeOptions(device=torch.device("cpu"), warmup_frames=2))
    body = _body()
    graph = FlowGraph("swaps", VIDEO, builder.source(TestSourceSpec(type="testsrc"), body))
    probe = ArrivalSink()
    steps = [builder.step(WorkflowStepSpec(name="fx"), body)]
    await start_steps(steps)
    await graph.start(steps, {"probe": probe})
    await asyncio.sleep(1.0)
    for _ in range(swaps):
        step = builder.step(WorkflowStepSpec(name="fx"), body)
        await step.start()
        await graph.replace_steps([step])
        await asyncio.sleep(0.25)
    await asyncio.sleep(0.5)
    await graph.stop()
    times = [t for t, _ in probe.arrivals]
    pts = [p for _, p in probe.arrivals]
    interval = 1 / VIDEO.fps
    gaps = [b - a for a, b in itertools.pairwise(times)]
    return {
        "swaps": swaps,
        "frames_out": len(pts),
        "max_gap_intervals": round(max(gaps) / interval, 2),
        "lost_frames": (pts[-1] - pts[0] + 1) - len(pts),
        "target": "max gap <= 2 intervals, 0 lost",
    }


async def live_run(seconds: float, with_step: bool) -> dict:
    builder = ComponentBuilder(RuntimeOptions(device=torch.device("cpu")))
    body = _body()
    clip = Path(__file__).resolve().parents[2] / "examples" / "media" / "clip.mp4"
    source = builder.source(FileSourceSpec(type="file", path=clip, loop=True), body)
    graph = FlowGraph("live", VIDEO, source)
    steps = [builder.step(WorkflowStepSpec(name="fx"), body)] if with_step else []
    sink = builder.sink(FileSinkSpec(type="file", name="out", path=RESULTS / "live.mkv"), body)
    await start_steps(steps)
    await graph.start(steps, {"out": sink})
    await asyncio.sleep(seconds)
    counters = graph.counters()
    await graph.stop()
    return {
        "frames_in": counters.frames_in,
        "frames_out": counters.frames_out,
        "dropped": counters.frames_dropped,
        "repeated": counters.frames_repeated,
        "latency_p50_ms": round(counters.latency_p50_ms or 0, 2),
        "latency_p95_ms": round(counters.latency_p95_ms or 0, 2),
    }


def live(seconds: float) -> dict:
    plain = asyncio.run(live_run(seconds, with_step=False))
    ours = asyncio.run(live_run(seconds, with_step=True))
    return {
        "without_step": plain,
        "with_invert_step": ours,
        "dropped_share": round(ours["dropped"] / max(ours["frames_in"], 1), 4),
        "repeated_share": round(ours["repeated"] / max(ours["frames_out"], 1), 4),
    }


def _memory_child(seconds: float, run_flow: bool) -> None:
    configure_torch(RuntimeOptions(device=torch.device("cpu")))

    async def main() -> None:
        if run_flow:
            builder = ComponentBuilder(RuntimeOptions(device=torch.device("cpu")))
            body = _body()
            source = builder.source(TestSourceSpec(type="testsrc"), body)
            graph = FlowGraph("mem", VIDEO, source)
            sink = builder.sink(
                FileSinkSpec(type="file", name="out", path=RESULTS / "mem-out.mkv"), body
            )
            steps = [builder.step(WorkflowStepSpec(name="fx"), body)]
            await start_steps(steps)
            await graph.start(steps, {"out": sink})
            await asyncio.sleep(seconds)
            await graph.stop()
        else:
            await asyncio.sleep(seconds)

    asyncio.run(main())
    # VmHWM, not ru_maxrss: the latter keeps the parent's peak across fork + exec.
    status = Path("/proc/self/status").read_text()
    print(next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM")))


def memory(seconds: float) -> dict:
    def peak(run_flow: bool) -> int:
        code = (
            "from tests.benchmarks.bench_pipeline import _memory_child;"
            f"_memory_child({seconds}, {run_flow})"
        )
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        )
        return int(out.stdout.split()[-1]) // 1024

    idle, flow = peak(False), peak(True)
    return {
        "idle_process_peak_rss_mib": idle,
        "flow_process_peak_rss_mib": flow,
        "flow_adds_mib": flow - idle,
        "ratio": round(flow / idle, 2),
    }


def run(seconds: int = 30, swaps: int = 20) -> dict:
    RESULTS.mkdir(exist_ok=True)
    configure_torch(RuntimeOptions(device=torch.device("cpu")))
    result = {
        "throughput": throughput(seconds),
        "live": live(10),
        "swaps": asyncio.run(swap_run(swaps)),
        "memory": memory(10),
    }
    (RESULTS / "pipeline.json").write_text(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=30)
    parser.add_argument("--swaps", type=int, default=20)
    args = parser.parse_args()
    print(json.dumps(run(args.seconds, args.swaps), indent=2))
