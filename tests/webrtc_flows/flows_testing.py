"""Helpers for the flow-level WebRTC tests: flows from YAML behind a real control API."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import textwrap
from collections.abc import AsyncIterator, Callable, Mapping
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import torch

from rtcflow.api.server import ControlServer, create_app
from rtcflow.media.frame import VideoFrame
from rtcflow.protocols.webrtc import FrameTrack
from rtcflow.reconcile.reconciler import Reconciler
from rtcflow.runtime.build import ComponentBuilder, RuntimeOptions
from rtcflow.runtime.flow import FlowGraph

LEFT = (200, 40, 90)  # the colours of tests/interop/wrtc/lib.mjs's two-colour source
RIGHT = (20, 180, 60)
TOLERANCE = 24  # YUV 4:2:0 plus lossy coding moves a flat colour by a few levels


def inverted(colour: tuple[int, int, int]) -> tuple[int, int, int]:
    return (255 - colour[0], 255 - colour[1], 255 - colour[2])


def close_to(sample: list[int] | None, colour: tuple[int, int, int]) -> bool:
    return sample is not None and all(
        abs(a - b) <= TOLERANCE for a, b in zip(sample, colour, strict=True)
    )


def two_colour(width: int = 128, height: int = 96, pts: int = 0) -> VideoFrame:
    """Left half ``LEFT``, right half ``RIGHT``."""
    data = torch.empty((height, width, 3), dtype=torch.uint8)
    data[:, : width // 2] = torch.tensor(LEFT, dtype=torch.uint8)
    data[:, width // 2 :] = torch.tensor(RIGHT, dtype=torch.uint8)
    return VideoFrame(data, pts=pts, time_base=Fraction(1, 30))


def halves(frame: VideoFrame) -> tuple[list[int], list[int]]:
    """RGB samples from the middle of each half."""
    row = frame.data[frame.height // 2]
    return row[frame.width // 4].tolist(), row[3 * frame.width // 4].tolist()


def write_two_colour_clip(path: Path, frames: int = 30) -> Path:
    """A short H.264 clip of the two-colour picture (for a looping file source)."""
    picture = two_colour().data.numpy()
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=30)
        stream.width, stream.height, stream.pix_fmt = 128, 96, "yuv420p"
        for _ in range(frames):
            container.mux(stream.encode(av.VideoFrame.from_ndarray(picture, format="rgb24")))
        container.mux(stream.encode(None))
    return path


class Flows:
    """Flows of one spec file, reconciled and served by a control API on a free port."""

    def __init__(self, spec: Path, environ: Mapping[str, str] | None = None) -> None:
        self.spec = spec
        builder = ComponentBuilder(RuntimeOptions(device=torch.device("cpu")))
        self.reconciler = Reconciler([spec], builder, environ=environ)
        self.api = ControlServer(create_app(self.reconciler), "127.0.0.1", 0)

    async def start(self) -> Flows:
        await self.api.start()
        await self.reconciler.reconcile()
        return self

    async def stop(self) -> None:
        await self.reconciler.stop_all()
        await self.api.stop()

    @property
    def url(self) -> str:
        return self.api.url

    def graph(self, name: str) -> FlowGraph:
        return self.reconciler.flows[name].graph

    def status(self, name: str) -> dict[str, Any]:
        return self.graph(name).status()

    async def rewrite(self, body: str) -> None:
        """Replace the spec file and reconcile (what the file watcher does)."""
        self.spec.write_text(textwrap.dedent(body))
        await self.reconciler.reconcile()


async def until(predicate: Callable[[], Any], timeout: float = 30.0, interval: float = 0.05) -> Any:
    """Poll ``predicate`` until it returns something truthy; fail after ``timeout``."""
    async with asyncio.timeout(timeout):
        while not (result := predicate()):
            await asyncio.sleep(interval)
    return result


@contextlib.asynccontextmanager
async def solid_feeder(
    track: FrameTrack, colour: tuple[int, int, int], width: int, height: int, fps: float = 30
) -> AsyncIterator[None]:
    """Put a ``colour`` frame into ``track`` ``fps`` times a second while the block runs."""
    data = torch.tensor(colour, dtype=torch.uint8).expand(height, width, 3).contiguous()

    async def feed() -> None:
        for index in itertools.count():
            track.put(VideoFrame(data, pts=index, time_base=Fraction(1, 30)))
            await asyncio.sleep(1 / fps)

    task = asyncio.create_task(feed())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
