"""Interop with pytrickle (PyPI), the Python trickle client used by ComfyStream workers.

pytrickle pins dependencies that clash with ours, so it runs in its own venv as a
subprocess (``pytrickle_peer.py``). Create that venv with (from the repo root)::

    python3 -m venv .venv-pytrickle
    .venv-pytrickle/bin/pip install --no-deps pytrickle==0.1.6
    .venv-pytrickle/bin/pip install aiohttp

or point RTCFLOW_PYTRICKLE_PYTHON at an interpreter that has pytrickle.
"""

from __future__ import annotations

import asyncio
import base64
import json
import random
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from rtcflow.protocols.trickle import TricklePublisher, TrickleServer, TrickleSubscriber
from tests.interop.pytrickle.pytrickle_testing import Peer

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]
PEER = HERE / "pytrickle_peer.py"
SEGMENTS = 5  # within the server's window, so a late subscriber still sees them all

pytestmark = pytest.mark.timeout(60)


def make_segments() -> list[bytes]:
    rng = random.Random(7)
    return [rng.randbytes(rng.randrange(20_000, 200_000)) for _ in range(SEGMENTS)]


async def eventually(condition, what: str, timeout: float = 20.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.005)


@pytest.fixture
async def server() -> AsyncIterator[TrickleServer]:
    server = TrickleServer("127.0.0.1", 0)
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def peer(tmp_path: Path) -> AsyncIterator[Peer]:
    peer = Peer(tmp_path / "peer.log")
    yield peer
    await peer.kill()


async def test_pytrickle_publisher_to_our_subscriber(server, peer, tmp_path):
    segments = make_segments()
    segments_file = tmp_path / "segments.json"
    segments_file.write_text(json.dumps([base64.b64encode(s).decode() for s in segments]))
    url = f"{server.url}/from-pytrickle"
    await peer.start("publish", url, str(segments_file))
    await eventually(lambda: "from-pytrickle" in server.channels, "pytrickle pre-connect")
    received = []
    async with TrickleSubscriber(url, start_seq=0) as subscriber:
        async for segment in subscriber:
            received.append((segment.seq, await segment.read()))
            if len(received) == SEGMENTS:
                break
    assert received == list(enumerate(segments))
    await peer.finish()


async def test_our_publisher_to_pytrickle_subscriber(server, peer, tmp_path):
    segments = make_segments()
    url = f"{server.url}/to-pytrickle"
    output = tmp_path / "received.jsonl"
    async with TricklePublisher(url) as publisher:
        await eventually(lambda: "to-pytrickle" in server.channels, "our pre-connect")
        channel = server.channels["to-pytrickle"]
        await peer.start("subscribe", url, str(output))
        for seq, data in enumerate(segments):
            # pace on the subscriber: publish once pytrickle waits for this segment
            await eventually(
                lambda seq=seq: (s := channel.find(seq)) is not None and s.readers > 0,
                f"pytrickle waiting on segment {seq}",
            )
            async with publisher.segment() as segment:
                for start in range(0, len(data), 8192):
                    await segment.write(data[start : start + 8192])
        await eventually(
            lambda: (s := channel.find(SEGMENTS)) is not None and s.readers > 0,
            "pytrickle done with the last segment",
        )
    # closing our publisher deleted the channel: pytrickle sees the end of the stream
    await peer.finish()
    lines = [json.loads(line) for line in output.read_text().splitlines()]
    assert [(line["seq"], base64.b64decode(line["data"])) for line in lines] == list(
        enumerate(segments)
    )
