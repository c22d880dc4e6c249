"""Drives the Node scripts in this folder: Google's libwebrtc as an independent peer.

Each script prints one JSON object per line (``{"event": ..., ...}``) and runs until
its stdin closes. The harness needs ``node`` and ``npm ci --prefix tests/interop/wrtc``.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
import torch

from rtcflow.media.frame import VideoFrame

HARNESS = Path(__file__).resolve().parent
LEFT = (200, 40, 90)  # the colours of lib.mjs's twoColourSource
RIGHT = (20, 180, 60)
TOLERANCE = 24

Event = dict[str, Any]


def require_node() -> str:
    """The ``node`` binary; skips (fails under CI) when the harness is not installed."""
    node = shutil.which("node")
    if node is not None and (HARNESS / "node_modules" / "@roamhq" / "wrtc").is_dir():
        return node
    message = (
        "the libwebrtc interop harness is not installed: install Node.js and run "
        "`npm ci --prefix tests/interop/wrtc`"
    )
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def two_colour_frame(index: int, width: int = 128, height: int = 96) -> VideoFrame:
    """The frame lib.mjs sends: left half ``LEFT``, right half ``RIGHT``."""
    data = torch.empty((height, width, 3), dtype=torch.uint8)
    data[:, : width // 2] = torch.tensor(LEFT, dtype=torch.uint8)
    data[:, width // 2 :] = torch.tensor(RIGHT, dtype=torch.uint8)
    return VideoFrame(data, pts=index, time_base=Fraction(1, 30))


def close_to(sample: list[int] | None, colour: tuple[int, int, int]) -> bool:
    """Whether an RGB sample is ``colour`` give or take lossy coding."""
    return sample is not None and all(
        abs(a - b) <= TOLERANCE for a, b in zip(sample, colour, strict=True)
    )


def halves(frame: VideoFrame) -> tuple[list[int], list[int]]:
    """The RGB samples lib.mjs's probe takes: the middle of each half."""
    row = frame.data[frame.height // 2]
    return row[frame.width // 4].tolist(), row[3 * frame.width // 4].tolist()


class NodePeer:
    """One running script; read its events, then :meth:`stop` it."""

    def __init__(self, process: asyncio.subprocess.Process, script: str) -> None:
        self.process = process
        self.script = script
        self.events: list[Event] = []

    async def wait_for(self, predicate: Callable[[Event], bool], timeout: float = 60) -> Event:
        """The first (new) event satisfying ``predicate``; fails on an error or exit."""
        assert self.process.stdout is not None
        async with asyncio.timeout(timeout):
            while True:
                line = await self.process.stdout.readline()
                if not line:
                    stderr = await self._stderr()
                    raise AssertionError(f"{self.script} exited: {self.events[-3:]} {stderr}")
                event = json.loads(line)
                self.events.append(event)
                if event["event"] == "error":
                    raise AssertionError(f"{self.script} failed: {event}")
                if predicate(event):
                    return event

    async def stop(self) -> Event:
        """Close stdin (the script cleans up and says ``done``), then reap it."""
        assert self.process.stdin is not None
        self.process.stdin.close()
        done = await self.wait_for(lambda e: e["event"] == "done", timeout=30)
        await asyncio.wait_for(self.process.wait(), 30)
        return done

    async def kill(self) -> None:
        if self.process.returncode is None:
            self.process.kill()
            await self.process.wait()

    async def _stderr(self) -> str:
        assert self.process.stderr is not None
        return (await self.process.stderr.read()).decode(errors="replace")[-2000:]


async def start_peer(node: str, script: str, *args: str) -> NodePeer:
    process = await asyncio.create_subprocess_exec(
        node,
        str(HARNESS / script),
        *args,
        cwd=HARNESS,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    return NodePeer(process, script)


@pytest.fixture
async def node_peer() -> AsyncIterator[Callable[..., Awaitable[NodePeer]]]:
    """Starts a libwebrtc peer ``node tests/interop/wrtc/<script> <args>``; every peer
    still running is killed afterwards."""
    node = require_node()
    started: list[NodePeer] = []

    async def start(script: str, *args: str) -> NodePeer:
        peer = await start_peer(node, script, *args)
        started.append(peer)
        return peer

    yield start
    for peer in started:
        await peer.kill()
