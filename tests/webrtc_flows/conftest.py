"""Fixtures for the flow-level WebRTC tests: flows from YAML behind a real control API."""

from __future__ import annotations

import textwrap
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from pathlib import Path

import pytest

from tests.interop.wrtc.wrtc_harness import NodePeer, require_node, start_peer
from tests.webrtc_flows.flows_testing import Flows


@pytest.fixture
async def run_flows(tmp_path: Path) -> AsyncIterator[Callable[..., Awaitable[Flows]]]:
    """``await run_flows(yaml, environ=...)``: the flows running, stopped afterwards."""
    started: list[Flows] = []

    async def start(body: str, environ: Mapping[str, str] | None = None) -> Flows:
        spec = tmp_path / f"flows-{len(started)}.yaml"
        spec.write_text(textwrap.dedent(body))
        flows = Flows(spec, environ)
        started.append(flows)
        return await flows.start()

    yield start
    for flows in started:
        await flows.stop()


@pytest.fixture
async def node_peer() -> AsyncIterator[Callable[..., Awaitable[NodePeer]]]:
    """Starts a libwebrtc peer ``node tests/interop/wrtc/<script> <args>``; killed afterwards."""
    node = require_node()
    started: list[NodePeer] = []

    async def start(script: str, *args: str) -> NodePeer:
        peer = await start_peer(node, script, *args)
        started.append(peer)
        return peer

    yield start
    for peer in started:
        await peer.kill()
