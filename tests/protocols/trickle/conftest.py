"""Fixtures for the trickle tests: a real server on a free loopback port."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from rtcflow.protocols.trickle import TrickleServer


@pytest.fixture
async def server() -> AsyncIterator[TrickleServer]:
    server = TrickleServer("127.0.0.1", 0)
    await server.start()
    yield server
    await server.stop()
