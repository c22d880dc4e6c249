"""Fixtures for the libwebrtc interop tests: Node peers and an rtcflow server."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from wrtc_harness import NodePeer, require_node, start_peer

from rtcflow.protocols.webrtc import WebRTCServer


@pytest.fixture
async def node_peer() -> AsyncIterator[Callable[..., Awaitable[NodePeer]]]:
    """Starts ``node <script> <args>``; every peer still running is killed afterwards."""
    node = require_node()
    started: list[NodePeer] = []

    async def start(script: str, *args: str) -> NodePeer:
        peer = await start_peer(node, script, *args)
        started.append(peer)
        return peer

    yield start
    for peer in started:
        await peer.kill()


@pytest.fixture
async def server() -> AsyncIterator[WebRTCServer]:
    """An unstarted rtcflow server: mount endpoints, then ``await server.start()``."""
    server = WebRTCServer("127.0.0.1", 0)
    yield server
    await server.close()
