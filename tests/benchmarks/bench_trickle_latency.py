"""Trickle round-trip latency: what rtcflow adds between a gateway's input and output.

A stand-in gateway (this process) runs a ``TrickleServer``, publishes the example clip at
512x512 and 30 fps with each frame's number stamped into its pixels
(``rtcflow.media.stamp``), and subscribes to the output channel, decoding as bytes
arrive. A worker process sits in between:

- ``rtcflow``: ``rtcflow apply`` of one flow: trickle source → the inversion workflow →
  trickle sink (H.264 encode, one segment per GOP);
- ``baseline``: a bare passthrough loop that copies each input segment's bytes to the
  output channel as they arrive (no decoding, no graph, no encoding).

Per frame, latency is the time from the publisher's write (encoding included) to its
decoded arrival at the subscriber, matched by stamp. Both runs have the same publisher
and subscriber, so ``added_*_ms`` (rtcflow minus baseline) is what the rtcflow worker
adds: decode, processing, the flow's output clock and encode. Target: rtcflow's p95 at
most 150 ms.

Run: ``python -m tests.benchmarks.bench_trickle_latency [--seconds 20]``; the JSON goes
to ``bench-results/trickle_latency.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import statistics
import subprocess
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path
from typing import Any

from rtcflow.media import stamp
from rtcflow.media.frame import VideoFrame
from rtcflow.media.reader import read_video
from rtcflow.protocols.trickle import TricklePublisher, TrickleServer, TrickleSubscriber
from rtcflow.sinks.trickle import TrickleSink
from rtcflow.sources.trickle import TrickleSource
from rtcflow.spec.models import TrickleSinkSpec, TrickleSourceSpec, VideoSpec

RESULTS = Path("bench-results")
CLIP = Path(__file__).resolve().parents[2] / "examples" / "media" / "clip.mp4"
VIDEO = VideoSpec(width=512, height=512, fps=30)
GOP = 60
TARGET_P95_MS = 150.0
WARMUP_SECONDS = 3.0

WORKER_SPEC = """\
apiVersion: rtcflow/v1
kind: Flow
metadata: {{name: bench}}
spec:
  video: {{width: {width}, height: {height}, fps: {fps}}}
  source: {{type: trickle, url: "{input}"}}
  steps: [{{name: invert}}]
  sinks: [{{name: out, type: trickle, url: "{output}", gop: {gop}}}]
"""


async def relay(input_url: str, output_url: str) -> None:
    """The baseline worker: each input segment's bytes to the output, as they arrive."""
    async with (
        TrickleSubscriber(input_url) as subscriber,
        TricklePublisher(output_url, "video/MP2T") as publisher,
    ):
        async for segment in subscriber:
            async with publisher.segment() as out:
                async for chunk in segment.aiter_bytes():
                    await out.write(chunk)


def start_worker(mode: str, input_url: str, output_url: str, folder: Path) -> subprocess.Popen:
    if mode == "baseline":
        command = ["-m", "tests.benchmarks.bench_trickle_latency", "--relay"]
        return subprocess.Popen([sys.executable, *command, input_url, output_url])
    spec = folder / "bench.yaml"
    spec.write_text(
        WORKER_SPEC.format(
            width=VIDEO.width,
            height=VIDEO.height,
            fps=VIDEO.fps,
            input=input_url,
            output=output_url,
            gop=GOP,
        )
    )
    command = ["-m", "rtcflow.cli", "--log-level", "WARNING", "apply", str(spec), "--no-watch"]
    return subprocess.Popen([sys.executable, *command, "--device", "cpu"])


def clip_frames(count: int) -> list[VideoFrame]:
    return list(itertools.islice(read_video(CLIP, VIDEO.width, VIDEO.height), count))


async def measure(mode: str, seconds: float, pictures: list[VideoFrame]) -> dict[str, Any]:
    server = TrickleServer("127.0.0.1", 0)
    await server.start()
    server.create_channel("bench", "video/MP2T")  # as a gateway does before the worker
    input_url, output_url = f"{server.url}/bench", f"{server.url}/bench-out"
    publisher = TrickleSink(
        TrickleSinkSpec(type="trickle", name="gateway", url=input_url, gop=GOP), VIDEO
    )
    receiver = TrickleSource(TrickleSourceSpec(type="trickle", url=output_url), VIDEO)
    sent: dict[int, float] = {}
    latencies: dict[int, float] = {}

    async def receive() -> None:
        async for frame in receiver.frames():
            number = stamp.read(frame.data)
            if number in sent and number not in latencies:
                latencies[number] = time.perf_counter() - sent[number]

    with tempfile.TemporaryDirectory() as folder:
        worker = start_worker(mode, input_url, output_url, Path(folder))
        receiving = asyncio.create_task(receive())
        try:
            while "bench-out" not in server.channels:  # the worker is up: its output exists
                if worker.poll() is not None:
                    raise RuntimeError(f"{mode} worker exited with {worker.returncode}")
                await asyncio.sleep(0.05)
            await publisher.open()
            total = round((WARMUP_SECONDS + seconds) * VIDEO.fps)
            warmup = round(WARMUP_SECONDS * VIDEO.fps)
            started = time.perf_counter()
            for index in range(total):
                await asyncio.sleep(max(0.0, started + index / VIDEO.fps - time.perf_counter()))
                data = pictures[index % len(pictures)].data.clone()
                stamp.draw(data, index)
                if index >= warmup:
                    sent[index] = time.perf_counter()
                await publisher.write(VideoFrame(data, index, Fraction(1, round(VIDEO.fps))))
            await asyncio.sleep(1.0)  # the last frames come through
        finally:
            receiving.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await receiving
            await receiver.close()
            await publisher.close()
            worker.terminate()
            worker.wait(30)
            await server.stop()
    values = sorted(latencies.values())
    if not values:
        raise RuntimeError(f"{mode}: no frame came back")
    return {
        "frames_sent": len(sent),
        "frames_received": len(values),
        "p50_ms": round(statistics.median(values) * 1000, 1),
        "p95_ms": round(values[min(len(values) - 1, round(0.95 * (len(values) - 1)))] * 1000, 1),
        "max_ms": round(values[-1] * 1000, 1),
    }


def run(seconds: float = 20.0) -> dict[str, Any]:
    """Measure the baseline, then rtcflow; returns both and what rtcflow adds."""
    pictures = clip_frames(120)
    baseline = asyncio.run(measure("baseline", seconds, pictures))
    rtcflow = asyncio.run(measure("rtcflow", seconds, pictures))
    return {
        "video": f"{VIDEO.width}x{VIDEO.height}@{VIDEO.fps:g}",
        "gop": GOP,
        "baseline": baseline,
        "rtcflow": rtcflow,
        "added_p50_ms": round(rtcflow["p50_ms"] - baseline["p50_ms"], 1),
        "added_p95_ms": round(rtcflow["p95_ms"] - baseline["p95_ms"], 1),
        "p95_ratio": round(rtcflow["p95_ms"] / baseline["p95_ms"], 2),
        "target_p95_ms": TARGET_P95_MS,
        "meets_target": rtcflow["p95_ms"] <= TARGET_P95_MS,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--relay", nargs=2, metavar=("IN", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.relay:
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(relay(*args.relay))
        return
    result = run(args.seconds)
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / "trickle_latency.json"
    path.write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))
    print(f"saved to {path}")


if __name__ == "__main__":
    main()
