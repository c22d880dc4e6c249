"""Fixtures for the flow-level WebRTC tests: flows from YAML behind a real control API."""

from __future__ import annotations

import textwrap
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from pathlib import Path

import pytest

from tests.interop.wrtc.wrtc_harness import node_peer  # noqa: F401 - a fixture
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
