"""WHIP publishing benchmark: CPU time per frame at 512x512, 30 fps, H.264 and VP8.

For each codec a ``WhipClient`` publishes a ``FrameTrack`` fed with changing 512x512
frames at 30 fps to a WHIP server running in another process (so its decoding is not
counted). The figure is this process's CPU time (all threads: pacing, conversion,
aiortc's encoder, RTP/SRTP) per frame sent, measured after a warm-up.

The baseline, measured in the same run, encodes the same frames with PyAV directly,
using aiortc's encoder settings (libx264 baseline/zerolatency, libvpx realtime) from
the same ``rgb24`` frames. ``ratio`` = WHIP CPU per frame / baseline CPU per frame: the
price of WebRTC on top of the encoder itself.

Run: ``python -m tests.benchmarks.bench_whip [--seconds 3]``; the JSON goes to
``bench-results/whip.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing
import os
import sys
import time
from fractions import Fraction
from pathlib import Path

import av
import torch
from aiortc.codecs.vpx import number_of_threads

from rtcflow.media.frame import VideoFrame
from rtcflow.protocols.webrtc import FrameTrack, VideoCodec, WhipClient

RESULTS = Path("bench-results")
SIZE = 512
FPS = 30
BITRATE = {"h264": 1_000_000, "vp8": 500_000}  # aiortc's start targets


def make_frames(count: int = FPS) -> list[VideoFrame]:
    """A moving gradient with texture: encoders have real work on every frame."""
    generator = torch.Generator().manual_seed(0)
    texture = torch.randint(0, 48, (SIZE, SIZE, 3), dtype=torch.uint8, generator=generator)
    ramp = torch.arange(SIZE, dtype=torch.int32)
    frames = []
    for index in range(count):
        shift = (ramp + index * 8) % 256
        data = torch.stack(
            [shift.expand(SIZE, SIZE), shift.expand(SIZE, SIZE).T, 255 - shift.expand(SIZE, SIZE)],
            dim=2,
        ).to(torch.uint8)
        frames.append(VideoFrame(data + texture, pts=index, time_base=Fraction(1, FPS)))
    return frames


def baseline_cpu_per_frame(codec: VideoCodec, frames: list[VideoFrame], count: int) -> float:
    """Plain PyAV: rgb24 frames into the encoder aiortc would open, CPU s per frame."""
    encoder = av.CodecContext.create("libx264" if codec == "h264" else "libvpx", "w")
    encoder.width = encoder.height = SIZE
    encoder.pix_fmt = "yuv420p"
    encoder.framerate = Fraction(FPS)
    encoder.time_base = Fraction(1, FPS)
    encoder.bit_rate = BITRATE[codec]
    if codec == "h264":
        encoder.profile = "Baseline"
        encoder.options = {"level": "31", "tune": "zerolatency"}
    else:  # aiortc's Vp8Encoder settings: realtime CBR
        encoder.gop_size = 3000
        encoder.qmin, encoder.qmax = 2, 56
        rate = str(BITRATE[codec])
        encoder.options = {
            "bufsize": rate,
            "cpu-used": "-6",
            "deadline": "realtime",
            "lag-in-frames": "0",
            "minrate": rate,
            "maxrate": rate,
            "noise-sensitivity": "4",
            "overshoot-pct": "15",
            "partitions": "0",
            "static-thresh": "1",
            "undershoot-pct": "100",
        }
        encoder.thread_count = number_of_threads(SIZE * SIZE, multiprocessing.cpu_count())
    pictures = [av.VideoFrame.from_ndarray(f.data.numpy(), format="rgb24") for f in frames]
    start = time.process_time()
    for index in range(count):
        picture = pictures[index % len(pictures)]
        picture.pts = index
        encoder.encode(picture)
    encoder.encode(None)
    return (time.process_time() - start) / count


async def whip_cpu_per_frame(
    url: str, codec: VideoCodec, frames: list[VideoFrame], seconds: float
) -> tuple[float, int]:
    """Publish for ``seconds`` after a 1 s warm-up: (CPU s per frame sent, frames)."""
    track = FrameTrack(FPS)

    async def feed() -> None:
        index = 0
        while True:
            track.put(frames[index % len(frames)])
            index += 1
            await asyncio.sleep(1 / FPS)

    feeder = asyncio.create_task(feed())
    try:
        async with WhipClient(url, codec=codec, bitrate=BITRATE[codec]) as client:
            await client.start(track)
            await asyncio.sleep(1.0)
            sent, cpu = track.sent, time.process_time()
            await asyncio.sleep(seconds)
            sent, cpu = track.sent - sent, time.process_time() - cpu
    finally:
        feeder.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await feeder
    return cpu / max(sent, 1), sent


async def _run(seconds: float) -> dict[str, object]:
    server = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "rtcflow.protocols.webrtc",
        stdout=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert server.stdout is not None
        url = json.loads(await asyncio.wait_for(server.stdout.readline(), 60))["url"]
        frames = make_frames()
        results: dict[str, object] = {}
        for codec in ("h264", "vp8"):
            whip, sent = await whip_cpu_per_frame(url, codec, frames, seconds)
            plain = baseline_cpu_per_frame(codec, frames, sent)
            results[codec] = {
                "frames": sent,
                "whip_cpu_ms_per_frame": round(whip * 1000, 3),
                "baseline_cpu_ms_per_frame": round(plain * 1000, 3),
                "ratio": round(whip / plain, 3),
            }
    finally:
        server.terminate()
        await server.wait()
    return {
        "benchmark": "whip",
        "size": f"{SIZE}x{SIZE}",
        "fps": FPS,
        "seconds": seconds,
        "cpus": os.cpu_count(),
        "results": results,
    }


def run(seconds: float = 3.0) -> dict[str, object]:
    """Run the benchmark, save ``bench-results/whip.json`` and return the results."""
    result = asyncio.run(_run(seconds))
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "whip.json").write_text(json.dumps(result, indent=2))
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="measured seconds per codec")
    arguments = parser.parse_args()
    print(json.dumps(run(arguments.seconds), indent=2))


if __name__ == "__main__":
    main()
