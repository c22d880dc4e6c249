"""Helpers for the WebRTC protocol tests: two-colour frames, feeders, a STUN responder."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from fractions import Fraction

import torch
from aioice import stun

from rtcflow.media.frame import VideoFrame

LEFT = (200, 40, 90)
RIGHT = (20, 180, 60)
TOLERANCE = 24  # YUV 4:2:0 plus lossy coding moves a flat colour by a few levels


def two_colour(width: int = 128, height: int = 96, pts: int = 0) -> VideoFrame:
    """Left half ``LEFT``, right half ``RIGHT``: orientation and geometry show."""
    data = torch.empty((height, width, 3), dtype=torch.uint8)
    data[:, : width // 2] = torch.tensor(LEFT, dtype=torch.uint8)
    data[:, width // 2 :] = torch.tensor(RIGHT, dtype=torch.uint8)
    return VideoFrame(data, pts=pts, time_base=Fraction(1, 30))


def assert_two_colour(frame: VideoFrame, width: int = 128, height: int = 96) -> None:
    assert (frame.width, frame.height) == (width, height)
    left = frame.data[height // 2, width // 4].int()
    right = frame.data[height // 2, 3 * width // 4].int()
    assert (left - torch.tensor(LEFT)).abs().max() <= TOLERANCE, left.tolist()
    assert (right - torch.tensor(RIGHT)).abs().max() <= TOLERANCE, right.tolist()


@contextlib.asynccontextmanager
async def feeding(
    put: Callable[[VideoFrame], None],
    make: Callable[[int], VideoFrame] = lambda i: two_colour(pts=i),
    fps: float = 30.0,
) -> AsyncIterator[None]:
    """Call ``put`` with a new frame ``fps`` times a second while the block runs."""

    async def run() -> None:
        index = 0
        while True:
            put(make(index))
            index += 1
            await asyncio.sleep(1 / fps)

    task = asyncio.create_task(run())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


class StunResponder(asyncio.DatagramProtocol):
    """A minimal STUN server (RFC 5389 Binding) on loopback, counting requests."""

    def __init__(self) -> None:
        self.requests = 0
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        request = stun.parse_message(data)
        if request.message_method != stun.Method.BINDING:
            return
        self.requests += 1
        response = stun.Message(
            message_method=stun.Method.BINDING,
            message_class=stun.Class.RESPONSE,
            transaction_id=request.transaction_id,
        )
        response.attributes["XOR-MAPPED-ADDRESS"] = addr
        assert self.transport is not None
        self.transport.sendto(bytes(response), addr)
