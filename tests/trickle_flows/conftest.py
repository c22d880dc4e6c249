"""Fixtures for the flow-level trickle tests: real trickle servers on loopback."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from rtcflow.protocols.trickle import TrickleServer
from tests.trickle_flows.trickle_flow_testing import ServerProcess


@pytest.fixture
async def server() -> AsyncIterator[TrickleServer]:
    server = TrickleServer("127.0.0.1", 0)
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
def server_process() -> Iterator[ServerProcess]:
    """A trickle server in a child process (started by the test), killed afterwards."""
    process = ServerProcess()
    yield process
    process.kill()
