"""The Daydream step against a failing service: refused keys, rate limits, server errors,
slow output, and the service dying mid-stream."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from rtcflow.daydream.emulator import DaydreamEmulator, Fault, WebRTCMedia
from tests.daydream_flows.daydream_testing import (
    API_KEY,
    GREY,
    DaydreamFlows,
    close_to,
    expected,
    flow_yaml,
    patches,
    requests,
    until,
)

SUNSET = {"prompt": "a sunset", "guidance_scale": 4.0}
NEON = {"prompt": "neon city", "guidance_scale": 4.0}


async def test_a_refused_key_stops_the_step_with_one_request(
    tmp_path: Path, emulator: DaydreamEmulator, clip: Path
) -> None:
    assert emulator.url is not None
    flows = DaydreamFlows(tmp_path, emulator.url, api_key="dd_wrong_key")
    try:
        await flows.apply(flow_yaml(clip, SUNSET))
        error = flows.reconciler.apply_errors["show"]
        assert "401" in error and "invalid API key" in error
        assert "show" not in flows.reconciler.flows
        assert len(emulator.requests) == 1  # no retries: a key does not fix itself
        assert "dd_wrong_key" not in error
    finally:
        await flows.stop()


async def test_a_missing_key_names_the_variable(
    tmp_path: Path, emulator: DaydreamEmulator, clip: Path
) -> None:
    assert emulator.url is not None
    flows = DaydreamFlows(tmp_path, emulator.url, api_key="")
    try:
        await flows.apply(flow_yaml(clip, SUNSET))
        assert "DAYDREAM_API_KEY" in flows.reconciler.apply_errors["show"]
        assert emulator.requests == []
    finally:
        await flows.stop()


async def test_a_key_refused_mid_stream_stops_the_step_without_retrying(
    flows: DaydreamFlows, emulator: DaydreamEmulator, clip: Path
) -> None:
    await flows.apply(flow_yaml(clip, SUNSET))
    emulator.inject(Fault(status=403, method="PATCH", times=100, message="key revoked"))
    await flows.apply(flow_yaml(clip, {**SUNSET, "seed": 3}))
    graph = flows.reconciler.flows["show"].graph
    await until(lambda: graph.step_errors.get("dream"))
    assert "key revoked" in graph.step_errors["dream"].last
    assert "stopped" in graph.step_errors["dream"].last
    await asyncio.sleep(1.0)
    assert len(requests(emulator, "PATCH", f"/v1/streams/{next(iter(emulator.streams))}")) == 1


async def test_429_on_create_waits_as_retry_after_says(
    flows: DaydreamFlows, emulator: DaydreamEmulator, clip: Path
) -> None:
    emulator.inject(Fault(status=429, retry_after=1, method="POST", path="/v1/streams"))
    await flows.apply(flow_yaml(clip, SUNSET))
    first, second = requests(emulator, "POST")
    assert second.received - first.received >= 1.0
    probe = flows.probe()
    await until(lambda: any(close_to(s.colour, expected(SUNSET)) for s in probe.samples))
    assert len(emulator.streams) == 1


async def test_500_on_create_then_success_leaves_one_stream(
    flows: DaydreamFlows, emulator: DaydreamEmulator, clip: Path
) -> None:
    emulator.inject(Fault(status=500, method="POST", path="/v1/streams"))
    await flows.apply(flow_yaml(clip, SUNSET))
    assert flows.reconciler.flows["show"]  # the flow runs; the step retries behind it
    probe = flows.probe()
    await until(lambda: any(close_to(s.colour, expected(SUNSET)) for s in probe.samples))
    assert len(requests(emulator, "POST")) == 2
    # After the ambiguous 500 the step looked for a stream the create might have made.
    assert requests(emulator, "GET")
    assert len(emulator.streams) == 1


async def test_500_on_a_patch_is_retried(
    flows: DaydreamFlows, emulator: DaydreamEmulator, clip: Path
) -> None:
    await flows.apply(flow_yaml(clip, SUNSET))
    emulator.inject(Fault(status=500, method="PATCH"))
    await flows.apply(flow_yaml(clip, {**SUNSET, "seed": 3}))
    await until(lambda: len(patches(emulator)) == 2)
    (stream,) = emulator.streams.values()
    await until(lambda: stream.params.seed == 3)


@pytest.mark.parametrize("media", [WebRTCMedia(warmup=3.0)])
async def test_output_arrives_after_whep_answered_404_for_seconds(
    flows: DaydreamFlows, emulator: DaydreamEmulator, media: WebRTCMedia, clip: Path
) -> None:
    await flows.apply(flow_yaml(clip, SUNSET))
    probe = flows.probe()
    (stream_id,) = emulator.streams
    await until(lambda: any(close_to(s.colour, expected(SUNSET)) for s in probe.samples))
    assert media.not_live_answers[stream_id] >= 3
    # Meanwhile the flow kept its output going with the unprocessed input.
    assert close_to(probe.samples[0].colour, list(GREY))
    assert flows.step().status()["state"] == "live"


# -- the service dies and comes back ------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.asynccontextmanager
async def emulator_process(port: int) -> AsyncIterator[asyncio.subprocess.Process]:
    """``rtcflow daydream-emulator`` in a process of its own, answering on ``port``."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        *("-m", "rtcflow.cli", "daydream-emulator", "--port", str(port)),
        *("--api-key", API_KEY),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        async with httpx.AsyncClient() as http:

            async def answers() -> bool:
                with contextlib.suppress(httpx.TransportError):
                    await http.get(f"http://127.0.0.1:{port}/v1/streams")
                    return True
                return False

            async with asyncio.timeout(60):
                while not await answers():
                    await asyncio.sleep(0.1)
        yield process
    finally:
        if process.returncode is None:
            process.kill()
        await process.wait()


async def test_the_flow_recovers_when_the_service_is_killed_and_restarted(
    tmp_path: Path, clip: Path
) -> None:
    port = _free_port()
    flows = DaydreamFlows(tmp_path, f"http://127.0.0.1:{port}")
    try:
        async with emulator_process(port) as first:
            await flows.apply(flow_yaml(clip, SUNSET))
            probe = flows.probe()
            await until(lambda: any(close_to(s.colour, expected(SUNSET)) for s in probe.samples))
            (lost,) = flows.ledger_ids()
            first.send_signal(signal.SIGKILL)
            await first.wait()
        step = flows.step()
        await until(lambda: step.status()["state"] != "live")
        await flows.apply(flow_yaml(clip, NEON))  # edited while the service is down
        async with emulator_process(port):
            await until(
                lambda: any(close_to(s.colour, expected(NEON)) for s in probe.samples),
                timeout=60,
            )
            status = step.status()
            assert status["streams_created"] == 2 and status["stream_id"] != lost
            assert flows.ledger_ids() == {status["stream_id"]}  # the lost one struck off
            await flows.stop()
            assert flows.ledger_ids() == set()
    finally:
        await flows.stop()
