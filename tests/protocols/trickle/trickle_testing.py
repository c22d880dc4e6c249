"""Helpers shared by the trickle tests."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable

from rtcflow.protocols.trickle import TrickleServer
from rtcflow.protocols.trickle.channel import Channel


async def eventually(condition: Callable[[], object], what: str, timeout: float = 5.0) -> None:
    """Wait until ``condition()`` is true (state reached by another task)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.002)


async def channel_of(server: TrickleServer, name: str) -> Channel:
    """The server's channel ``name`` once a request created it."""
    await eventually(lambda: name in server.channels, f"channel {name}")
    return server.channels[name]


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def readers(channel: Channel, seq: int) -> int:
    """How many subscribers read or wait on segment ``seq`` (0 if it does not exist)."""
    segment = channel.find(seq)
    return 0 if segment is None else segment.readers
