"""Small real components (sources, steps, sinks) that graph and reload tests plug in."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from fractions import Fraction
from pathlib import Path

import torch

from rtcflow.media.frame import VideoFrame
from rtcflow.sinks.base import Sink
from rtcflow.sources.base import Source
from rtcflow.spec.models import VideoSpec

REPO = Path(__file__).resolve().parent.parent


def solid(value: int, video: VideoSpec, pts: int = 0) -> VideoFrame:
    data = torch.full((video.height, video.width, 3), value, dtype=torch.uint8)
    return VideoFrame(data, pts=pts, time_base=Fraction(1, round(video.fps)))


class CountingSource(Source):
    """Frames whose pixel value is their index (mod 256), paced at fps when live."""

    def __init__(self, video: VideoSpec, count: int | None, *, live: bool = True) -> None:
        super().__init__(None, video)
        self.count = count
        self.live = live

    async def frames(self) -> AsyncIterator[VideoFrame]:
        loop = asyncio.get_running_loop()
        start = loop.time()
        index = 0
        while self.count is None or index < self.count:
            if self.live:
                await asyncio.sleep(max(0.0, start + index / self.video.fps - loop.time()))
            else:
                await asyncio.sleep(0)
            yield solid(index % 256, self.video, pts=index)
            index += 1


class CollectingSink(Sink):
    """Keeps every frame it receives; optionally slow or failing."""

    def __init__(self, video: VideoSpec, *, delay: float = 0.0, fail_first: int = 0) -> None:
        super().__init__(None, video)
        self.frames: list[VideoFrame] = []
        self.delay = delay
        self.fail_first = fail_first
        self.opened = 0
        self.closed = 0

    async def open(self) -> None:
        self.opened += 1

    async def write(self, frame: VideoFrame) -> None:
        if self.fail_first > 0:
            self.fail_first -= 1
            raise ConnectionError("sink down")
        if self.delay:
            await asyncio.sleep(self.delay)
        self.frames.append(frame)

    async def close(self) -> None:
        self.closed += 1


class AddStep:
    """Adds ``amount`` to every pixel; optionally slow or raising."""

    def __init__(self, name: str, amount: int, *, delay: float = 0.0, fail: bool = False):
        self.name = name
        self.amount = amount
        self.delay = delay
        self.fail = fail
        self.closed = False

    async def start(self) -> None:
        pass

    async def process(self, frame: VideoFrame) -> VideoFrame:
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.fail:
            raise RuntimeError("step exploded")
        return frame.with_data(frame.data + self.amount)

    async def close(self) -> None:
        self.closed = True

    def status(self) -> dict:
        return {"amount": self.amount}


#: LoadTensor -> RtcflowColorAdjust (node 2, all neutral) -> SaveTensor: inputs a timeline
#: or an edit can change visibly.
ADJUST = {
    "1": {"class_type": "LoadTensor", "inputs": {}},
    "2": {
        "class_type": "RtcflowColorAdjust",
        "inputs": {"image": ["1", 0], "brightness": 1.0, "contrast": 1.0, "saturation": 1.0},
    },
    "3": {"class_type": "SaveTensor", "inputs": {"images": ["2", 0]}},
}
