"""Glass-to-glass latency through the preview, on loopback, against bare aiortc.

Measured path: a live source stamps each frame's number into its pixels
(``rtcflow.media.stamp``) and notes the time → the flow graph (an inverting workflow
step, the output clock) → the ``preview`` sink → WHEP (the control API's preview
endpoint, over HTTP) → a :class:`~rtcflow.protocols.webrtc.WhepClient` player, which
reads the stamp back from each decoded frame. Latency = decode time - stamp time.

Baseline, in the same run: bare aiortc on loopback — a plain ``VideoStreamTrack`` that
stamps frames as aiortc asks for them, two ``RTCPeerConnection`` objects negotiated in
process (no HTTP, no graph, no pacing queue), frames read straight off the remote track.
The ratio ``p95 / baseline p95`` is the price of rtcflow's graph, pacing and signaling;
the target is p95 <= 200 ms. Both use VP8 at 256x256, 30 fps.

Run: ``python -m tests.benchmarks.bench_preview [--seconds 4]``; the JSON goes to
``bench-results/preview.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import statistics
import time
from collections.abc import AsyncIterator
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import torch
from aiortc import RTCPeerConnection, VideoStreamTrack
from aiortc.mediastreams import MediaStreamError

from rtcflow.api.server import ControlServer, create_app
from rtcflow.media import stamp
from rtcflow.media.convert import av_to_tensor, to_av
from rtcflow.media.frame import VideoFrame
from rtcflow.media.timing import Pacer
from rtcflow.protocols.webrtc import WhepClient
from rtcflow.reconcile.digest import flow_digests
from rtcflow.reconcile.reconciler import DeclaredFlow, Reconciler, RunningFlow
from rtcflow.runtime.build import ComponentBuilder, RuntimeOptions
from rtcflow.runtime.flow import FlowGraph, start_steps
from rtcflow.sinks.preview import PreviewSink
from rtcflow.sources.base import Source
from rtcflow.spec.models import Flow, VideoSpec

RESULTS = Path("bench-results")
SIZE = 256
FPS = 30
WARMUP = 1.0
TARGET_P95_MS = 200.0

FLOW = Flow.model_validate(
    {
        "apiVersion": "rtcflow/v1",
        "kind": "Flow",
        "metadata": {"name": "bench"},
        "spec": {
            "video": {"width": SIZE, "height": SIZE, "fps": FPS},
            "source": {"type": "testsrc"},
            "steps": [{"name": "invert"}],
            "sinks": [{"name": "preview", "type": "preview"}],
        },
    }
)


class Stamps:
    """Frame number → the time it was made; and the latencies of frames read back."""

    def __init__(self) -> None:
        self.made: dict[int, float] = {}
        self.latencies: list[float] = []
        self.seen: set[int] = set()
        self.measuring = False
        self._background = torch.full((SIZE, SIZE, 3), 96, dtype=torch.uint8)

    def make(self, number: int) -> torch.Tensor:
        data = self._background.clone()
        stamp.draw(data, number % stamp.LIMIT)
        self.made[number % stamp.LIMIT] = time.perf_counter()
        return data

    def read(self, data: torch.Tensor) -> None:
        number = stamp.read(data)
        if number is None or number in self.seen or number not in self.made:
            return
        self.seen.add(number)
        if self.measuring:
            self.latencies.append(time.perf_counter() - self.made[number])

    def summary(self) -> dict[str, Any]:
        ms = sorted(1000 * x for x in self.latencies)
        return {
            "frames": len(ms),
            "p50_ms": round(statistics.median(ms), 1),
            "p95_ms": round(ms[int(0.95 * (len(ms) - 1))], 1),
            "max_ms": round(ms[-1], 1),
        }


class StampSource(Source):
    """A live source of stamped frames at ``FPS``."""

    def __init__(self, stamps: Stamps) -> None:
        super().__init__(None, VideoSpec(width=SIZE, height=SIZE, fps=FPS))
        self.stamps = stamps

    async def frames(self) -> AsyncIterator[VideoFrame]:
        pacer = Pacer()
        for number in itertools.count():
            await pacer.wait(number / FPS)
            yield VideoFrame(self.stamps.make(number), number, Fraction(1, FPS))


async def measure(stamps: Stamps, frames: AsyncIterator[torch.Tensor], seconds: float) -> None:
    """Read stamps from ``frames`` for ``WARMUP`` seconds unmeasured, then ``seconds``."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    async for data in frames:
        stamps.measuring = loop.time() - start >= WARMUP
        stamps.read(data)
        if loop.time() - start >= WARMUP + seconds:
            return


async def through_preview(seconds: float) -> dict[str, Any]:
    """The flow graph with a preview sink, played over the control API's WHEP."""
    stamps = Stamps()
    builder = ComponentBuilder(RuntimeOptions(device=torch.device("cpu")))
    reconciler = Reconciler([], builder)
    graph = FlowGraph("bench", FLOW.spec.video, StampSource(stamps))
    step = builder.step(FLOW.spec.steps[0], FLOW.spec)
    sink = builder.sink(FLOW.spec.sinks[0], FLOW.spec)
    assert isinstance(sink, PreviewSink)
    await start_steps([step])
    await graph.start([step], {"preview": sink})
    # The flow is registered the way the reconciler does after starting it.
    declared = DeclaredFlow(FLOW, "benchmark")
    reconciler.flows["bench"] = RunningFlow(declared, flow_digests(FLOW), graph)
    api = ControlServer(create_app(reconciler), "127.0.0.1", 0)
    await api.start()
    try:
        async with WhepClient(f"{api.url}/flows/bench/whep", codec="vp8") as player:
            receiver = await player.start()

            async def frames() -> AsyncIterator[torch.Tensor]:
                async for frame in receiver:
                    yield frame.data

            await measure(stamps, frames(), seconds)
        counters = graph.counters()
    finally:
        await graph.stop()
        await api.stop()
    return {
        **stamps.summary(),
        "graph_repeated": counters.frames_repeated,
        "graph_dropped": counters.frames_dropped,
    }


class BareTrack(VideoStreamTrack):
    """aiortc's own paced track; each frame is stamped when aiortc asks for it."""

    def __init__(self, stamps: Stamps) -> None:
        super().__init__()
        self.stamps = stamps
        self.count = 0

    async def recv(self) -> av.VideoFrame:
        pts, time_base = await self.next_timestamp()
        frame = to_av(VideoFrame(self.stamps.make(self.count), 0, Fraction(1, FPS)))
        frame.pts, frame.time_base = pts, time_base
        self.count += 1
        return frame


async def bare_aiortc(seconds: float) -> dict[str, Any]:
    """Two peer connections in one process, offer/answer passed directly."""
    stamps = Stamps()
    sender, receiver = RTCPeerConnection(), RTCPeerConnection()
    remote: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
    receiver.on("track", remote.set_result)
    transceiver = sender.addTransceiver(BareTrack(stamps), direction="sendonly")
    vp8 = [
        c for c in transceiver.sender.getCapabilities("video").codecs if c.mimeType == "video/VP8"
    ]
    transceiver.setCodecPreferences(vp8)
    try:
        await sender.setLocalDescription(await sender.createOffer())
        await receiver.setRemoteDescription(sender.localDescription)
        await receiver.setLocalDescription(await receiver.createAnswer())
        await sender.setRemoteDescription(receiver.localDescription)
        track = await remote

        async def frames() -> AsyncIterator[torch.Tensor]:
            try:
                while True:
                    frame = await track.recv()
                    yield await asyncio.to_thread(av_to_tensor, frame)
            except MediaStreamError:
                return

        await measure(stamps, frames(), seconds)
    finally:
        await sender.close()
        await receiver.close()
    return stamps.summary()


async def main(seconds: float) -> dict[str, Any]:
    baseline = await bare_aiortc(seconds)
    preview = await through_preview(seconds)
    return {
        "size": f"{SIZE}x{SIZE}",
        "fps": FPS,
        "codec": "vp8",
        "seconds": seconds,
        "baseline_bare_aiortc": baseline,
        "preview": preview,
        "ratio_p50": round(preview["p50_ms"] / baseline["p50_ms"], 2),
        "ratio_p95": round(preview["p95_ms"] / baseline["p95_ms"], 2),
        "target_p95_ms": TARGET_P95_MS,
        "meets_target": preview["p95_ms"] <= TARGET_P95_MS,
    }


def run(seconds: float = 4.0) -> dict[str, Any]:
    """Run the benchmark, save ``bench-results/preview.json`` and return the results."""
    result = asyncio.run(main(seconds))
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "preview.json").write_text(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=4.0)
    arguments = parser.parse_args()
    print(json.dumps(run(arguments.seconds), indent=2))
