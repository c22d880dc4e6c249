"""Fixtures for the libwebrtc interop tests: Node peers and an rtcflow server."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from rtcflow.protocols.webrtc import WebRTCServer
from tests.interop.wrtc.wrtc_harness import node_peer  # noqa: F401 - a fixture


@pytest.fixture
async def server() -> AsyncIterator[WebRTCServer]:
    """An unstarted rtcflow server: mount endpoints, then ``await server.start()``."""
    server = WebRTCServer("127.0.0.1", 0)
    yield server
    await server.close()
