"""Helpers for the flow-level trickle tests: stamped video, real encoding and decoding."""

from __future__ import annotations

import asyncio
import contextlib
import io
import socket
import subprocess
import sys
import textwrap
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import torch

from rtcflow.media import stamp
from rtcflow.media.codec import H264Encoder
from rtcflow.media.frame import VideoFrame
from rtcflow.media.mux import Muxer
from rtcflow.reconcile.reconciler import Reconciler
from rtcflow.runtime.build import ComponentBuilder, RuntimeOptions
from rtcflow.sinks.trickle import TrickleSink
from rtcflow.sources.trickle import TrickleSource
from rtcflow.spec.models import TrickleSinkSpec, TrickleSourceSpec, VideoSpec

#: Small frames that still carry a stamp (it needs 136 pixels of width).
VIDEO = VideoSpec(width=160, height=128, fps=30)
BACKGROUND = 50  # grey level of the picture around the stamp


def stamped(index: int, video: VideoSpec = VIDEO, background: int = BACKGROUND) -> VideoFrame:
    """A flat frame carrying ``index`` in its stamp; pts ``index`` at the video's rate."""
    data = torch.full((video.height, video.width, 3), background, dtype=torch.uint8)
    stamp.draw(data, index)
    return VideoFrame(data, pts=index, time_base=Fraction(1, round(video.fps)))


def centre(frame: VideoFrame) -> int:
    """The grey level in the middle of the frame (below the stamp)."""
    return int(frame.data[frame.height * 3 // 4, frame.width // 2, 0])


def ts_segments(frames: int, gop: int, video: VideoSpec = VIDEO, first: int = 0) -> list[bytes]:
    """Stamped frames ``first``.. as H.264 in MPEG-TS, one segment per GOP (independent of
    the trickle sink: plain PyAV muxing, PES lengths omitted as FFmpeg does by default)."""
    encoder = H264Encoder(video.width, video.height, video.fps, gop=gop)
    segments = []
    for start in range(first, first + frames, gop):
        output = io.BytesIO()
        muxer = Muxer(output, format="mpegts", encoder=encoder)
        for index in range(start, min(start + gop, first + frames)):
            muxer.mux(encoder.encode(stamped(index, video)))
        muxer.close()
        segments.append(output.getvalue())
    return segments


def decode_segment(data: bytes) -> list[av.VideoFrame]:
    """Every frame of one MPEG-TS segment, decoded on its own."""
    with av.open(io.BytesIO(data), format="mpegts") as container:
        return list(container.decode(video=0))


def stamp_of(frame: av.VideoFrame) -> int | None:
    return stamp.read(torch.from_numpy(frame.to_ndarray(format="rgb24")))


def source(url: str, video: VideoSpec = VIDEO, **options: Any) -> TrickleSource:
    return TrickleSource(TrickleSourceSpec(type="trickle", url=url, **options), video)


def sink(url: str, video: VideoSpec = VIDEO, **options: Any) -> TrickleSink:
    return TrickleSink(TrickleSinkSpec(type="trickle", name="out", url=url, **options), video)


class Reader:
    """Reads a trickle source in the background and keeps what it got."""

    def __init__(self, trickle_source: TrickleSource) -> None:
        self.source = trickle_source
        self.frames: list[VideoFrame] = []
        self.task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for frame in self.source.frames():
            self.frames.append(frame)

    @property
    def stamps(self) -> list[int | None]:
        return [stamp.read(frame.data) for frame in self.frames]

    async def wait_for(self, predicate: Callable[[Reader], Any], timeout: float = 20.0) -> None:
        await until(lambda: predicate(self) or self.task.done(), timeout)
        if self.task.done() and not predicate(self):
            self.task.result()
            raise AssertionError(f"the source ended; got stamps {self.stamps}")

    async def close(self) -> None:
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task
        await self.source.close()


async def until(predicate: Callable[[], Any], timeout: float = 20.0) -> Any:
    """Poll ``predicate`` until it is true; fail after ``timeout``."""
    async with asyncio.timeout(timeout):
        while not (result := predicate()):
            await asyncio.sleep(0.01)
    return result


async def feed(trickle_sink: TrickleSink, frames: range, fps: float = 30.0) -> None:
    """Write stamped frames ``frames`` to an open sink, paced at ``fps``."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    for count, index in enumerate(frames):
        await asyncio.sleep(max(0.0, start + count / fps - loop.time()))
        await trickle_sink.write(stamped(index, trickle_sink.video))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ServerProcess:
    """``rtcflow trickle-server`` in its own process, so that it can really be killed."""

    def __init__(self) -> None:
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        command = [sys.executable, "-m", "rtcflow.cli", "--log-level", "WARNING"]
        self.process = subprocess.Popen(
            [*command, "trickle-server", "--port", str(self.port)], stdout=subprocess.DEVNULL
        )
        for _ in range(400):
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", self.port)
            except OSError:
                await asyncio.sleep(0.025)
            else:
                writer.close()
                return
        raise AssertionError("trickle server process did not start")

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()


class SpecFlows:
    """Flows of a YAML spec, reconciled in this process (CPU workflows)."""

    def __init__(self, folder: Path, body: str) -> None:
        self.spec = folder / "flows.yaml"
        self.spec.write_text(textwrap.dedent(body))
        options = RuntimeOptions(device=torch.device("cpu"), state_dir=folder / ".rtcflow")
        self.reconciler = Reconciler([self.spec], ComponentBuilder(options))

    async def start(self) -> SpecFlows:
        await self.reconciler.reconcile()
        return self

    def status(self, name: str) -> dict[str, Any]:
        return self.reconciler.flows[name].graph.status()

    async def stop(self) -> None:
        await self.reconciler.stop_all()
