"""Fixtures for the WebRTC protocol tests: real servers on free loopback ports."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from webrtc_testing import StunResponder

from rtcflow.protocols.webrtc import WebRTCServer


@pytest.fixture
async def server() -> AsyncIterator[WebRTCServer]:
    """An unstarted server: mount endpoints, then ``await server.start()``."""
    server = WebRTCServer("127.0.0.1", 0)
    yield server
    await server.close()


@pytest.fixture
async def stun_server() -> AsyncIterator[tuple[StunResponder, str]]:
    """A STUN responder and its ``stun:`` URL."""
    loop = asyncio.get_running_loop()
    transport, responder = await loop.create_datagram_endpoint(
        StunResponder, local_addr=("127.0.0.1", 0)
    )
    port = transport.get_extra_info("sockname")[1]
    yield responder, f"stun:127.0.0.1:{port}"
    transport.close()
