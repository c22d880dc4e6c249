"""The ComfyStream-compatible stream API, with real trickle channels on loopback."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import torch

from rtcflow.api.server import ControlServer, create_app
from rtcflow.api.trickle_control import TrickleChannels
from rtcflow.protocols.trickle import (
    ChannelNotFoundError,
    TrickleJsonPublisher,
    TrickleJsonSubscriber,
    TrickleServer,
    TrickleSubscriber,
)
from rtcflow.reconcile.reconciler import Reconciler
from rtcflow.runtime.build import ComponentBuilder, RuntimeOptions
from rtcflow.sinks.trickle import TrickleSink
from tests.trickle_flows.trickle_flow_testing import (
    BACKGROUND,
    VIDEO,
    Reader,
    centre,
    decode_segment,
    feed,
    free_port,
    sink,
    source,
    until,
)

pytestmark = pytest.mark.timeout(90)

PASSTHROUGH = {
    "1": {"class_type": "LoadTensor", "inputs": {}},
    "2": {"class_type": "SaveTensor", "inputs": {"images": ["1", 0]}},
}


@dataclass
class StreamAPI:
    reconciler: Reconciler
    channels: TrickleChannels
    client: httpx.AsyncClient
    trickle: TrickleServer

    def body(self, stream: str = "s1", **params: Any) -> dict[str, Any]:
        """A ``/stream/start`` body as a gateway sends it, for channels ``<stream>*``."""
        base = f"{self.trickle.url}/{stream}"
        return {
            "subscribe_url": base,
            "publish_url": f"{base}-out",
            "gateway_request_id": stream,
            "manifest_id": "ignored-as-comfystream-does",
            "params": {"width": VIDEO.width, "height": VIDEO.height, **params},
        }


@pytest.fixture
async def api(server: TrickleServer, tmp_path: Path) -> AsyncIterator[StreamAPI]:
    options = RuntimeOptions(device=torch.device("cpu"), state_dir=tmp_path / ".rtcflow")
    reconciler = Reconciler([], ComponentBuilder(options))
    channels = TrickleChannels(reconciler, heartbeat_interval=0.3, poll_interval=0.05)
    control = ControlServer(create_app(reconciler, channels), "127.0.0.1", 0)
    await control.start()
    await channels.start()
    async with httpx.AsyncClient(base_url=control.url, timeout=30) as client:
        yield StreamAPI(reconciler, channels, client, server)
    await channels.stop()
    await reconciler.stop_all()
    await control.stop()


@contextlib.asynccontextmanager
async def publishing(url: str) -> AsyncIterator[TrickleSink]:
    """Stamped frames published to ``url`` at 30 fps while the block runs."""
    publisher = sink(url, gop=15)
    await publisher.open()
    task = asyncio.create_task(feed(publisher, range(100_000)))
    try:
        yield publisher
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await publisher.close()


async def output_size(url: str) -> tuple[int, int] | None:
    """The frame size of the output channel's current segment (None while it has none)."""
    try:
        async with TrickleSubscriber(url) as subscriber:
            async for segment in subscriber:
                frames = decode_segment(await segment.read())
                if frames:
                    return frames[0].width, frames[0].height
    except Exception:
        return None
    return None


async def test_start_status_and_stop_a_stream(api: StreamAPI) -> None:
    async with publishing(f"{api.trickle.url}/s1"):
        response = await api.client.post("/stream/start", json=api.body())
        assert response.status_code == 200, response.text
        assert response.json() == {
            "status": "success",
            "message": "Stream s1 started successfully",
            "request_id": "s1",
            "config": {
                "subscribe_url": f"{api.trickle.url}/s1",
                "publish_url": f"{api.trickle.url}/s1-out",
                "control_url": None,
                "events_url": None,
                "data_url": None,
                "width": VIDEO.width,
                "height": VIDEO.height,
            },
        }
        reader = Reader(source(f"{api.trickle.url}/s1-out"))
        try:
            await reader.wait_for(lambda r: len(r.frames) >= 10)
        finally:
            await reader.close()
        assert abs(centre(reader.frames[-1]) - (255 - BACKGROUND)) < 12  # default: inversion

        status = (await api.client.get("/stream/s1/status")).json()
        assert status["request_id"] == "s1" and status["running"] is True
        assert (status["width"], status["height"]) == (VIDEO.width, VIDEO.height)
        assert status["flow"]["graph"]["counters"]["frames_out"] > 0
        listing = (await api.client.get("/streams")).json()
        assert listing["count"] == 1 and listing["streams"]["s1"]["request_id"] == "s1"
        flow = (await api.client.get("/flows/s1/status")).json()  # a flow like any other
        assert flow["phase"] == "Running"
        assert flow["graph"]["sinks"]["out"]["url"] == f"{api.trickle.url}/s1-out"

        response = await api.client.post("/stream/s1/stop")
        assert response.json() == {"status": "success", "message": "Stream s1 stopped successfully"}
    assert "s1" not in api.reconciler.flows
    assert "s1-out" not in api.trickle.channels  # the sink deleted its channel
    assert (await api.client.get("/stream/s1/status")).status_code == 404
    assert (await api.client.get("/streams")).json() == {"streams": {}, "count": 0}


@pytest.mark.parametrize("form", ["object", "json-text", "prompts-list"])
async def test_the_workflow_comes_from_the_params(api: StreamAPI, form: str) -> None:
    params = {
        "object": {"prompt": PASSTHROUGH},
        "json-text": {"prompt": json.dumps(PASSTHROUGH)},
        "prompts-list": {"prompts": [json.dumps(PASSTHROUGH)]},
    }[form]
    async with publishing(f"{api.trickle.url}/s1"):
        response = await api.client.post("/stream/start", json=api.body(**params))
        assert response.status_code == 200, response.text
        reader = Reader(source(f"{api.trickle.url}/s1-out"))
        try:
            await reader.wait_for(lambda r: len(r.frames) >= 5)
        finally:
            await reader.close()
    assert abs(centre(reader.frames[-1]) - BACKGROUND) < 12  # passed through, not inverted


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"subscribe_url": None}, "subscribe_url", "Input should be a valid string"),
        ({"publish_url": "ftp://x/y"}, "publish_url", "must be an http:// or https:// URL"),
        ({"gateway_request_id": "Bad_Id"}, "gateway_request_id", "should match pattern"),
        ({"params": {"width": 101}}, "params.width", "multiple of 2"),
        ({"params": {"prompt": "{not json"}}, "params.prompt", "invalid JSON at line 1"),
        ({"params": {"prompt": {"1": {"class_type": "NoSuchNode", "inputs": {}}}}},
         "params.prompt", "NoSuchNode"),
        ({"params": {"seed": 3}}, "params.seed", "Extra inputs are not permitted"),
        ({"params": {"prompts": [PASSTHROUGH, PASSTHROUGH]}}, "params.prompts", "at most 1"),
    ],
)  # fmt: skip
async def test_a_bad_request_names_the_field(
    api: StreamAPI, change: dict[str, Any], field: str, message: str
) -> None:
    body = {**api.body(), **change}
    response = await api.client.post("/stream/start", json=body)
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert field in errors and message in errors[field], errors
    assert api.reconciler.flows == {} and api.reconciler.declared == {}


async def test_a_body_that_is_not_json_is_refused(api: StreamAPI) -> None:
    response = await api.client.post("/stream/start", content=b"{nope")
    assert response.status_code == 400 and "Invalid JSON" in response.json()["error"]


async def test_duplicate_and_unknown_ids(api: StreamAPI) -> None:
    assert (await api.client.post("/stream/start", json=api.body())).status_code == 200
    response = await api.client.post("/stream/start", json=api.body())
    assert response.status_code == 409 and "already exists" in response.json()["message"]
    for method, path in [
        ("POST", "/stream/nope/stop"),
        ("GET", "/stream/nope/status"),
        ("POST", "/stream/nope/params"),
    ]:
        response = await api.client.request(method, path, json={})
        assert response.status_code == 404, path
    assert (await api.client.post("/stream/s1/stop")).status_code == 200


async def test_control_channel_swaps_the_workflow_and_resizes(api: StreamAPI) -> None:
    base = f"{api.trickle.url}/s1"
    events: list[dict[str, Any]] = []

    async def collect() -> None:
        while True:  # until the worker's first event creates the channel
            try:
                async with TrickleJsonSubscriber(f"{base}-events", start_seq=0) as subscriber:
                    async for message in subscriber:
                        events.append(message)
            except ChannelNotFoundError:
                await asyncio.sleep(0.05)

    body = {**api.body(), "control_url": f"{base}-control", "events_url": f"{base}-events"}
    async with publishing(base), TrickleJsonPublisher(f"{base}-control") as control:
        response = await api.client.post("/stream/start", json=body)
        assert response.status_code == 200, response.text
        collecting = asyncio.create_task(collect())
        reader = Reader(source(f"{base}-out"))
        try:
            await reader.wait_for(lambda r: len(r.frames) >= 5)
            assert abs(centre(reader.frames[-1]) - (255 - BACKGROUND)) < 12

            await control.publish({"prompt": json.dumps(PASSTHROUGH)})  # warmed and swapped
            await reader.wait_for(lambda r: abs(centre(r.frames[-1]) - BACKGROUND) < 12)

            await control.publish({"width": 7})  # refused: nothing changes, an error event
            await until(lambda: any(e["event"]["type"] == "error" for e in events))

            await control.publish({"width": 96, "height": 64})  # the flow restarts
            await until(lambda: api.reconciler.desired["s1"].flow.spec.video.width == 96)
            size = None
            while size != (96, 64):
                size = await output_size(f"{base}-out")
            await until(lambda: any(e["event"]["type"] == "heartbeat" for e in events))
        finally:
            await reader.close()
            collecting.cancel()

    kinds = [(e["queue_event_type"], e["event"]["type"]) for e in events]
    assert kinds[0] == ("stream_trace", "stream_started")
    error = next(e["event"] for e in events if e["event"]["type"] == "error")
    assert error["source"] == "control" and "width" in error["message"]
    beat = next(e["event"] for e in reversed(events) if e["event"]["type"] == "heartbeat")
    assert beat["request_id"] == "s1" and beat["fps"] > 0
    assert beat["counters"]["frames_out"] > 0 and "frames_dropped" in beat["counters"]
    status = (await api.client.get("/stream/s1/status")).json()
    assert (status["width"], status["height"]) == (96, 64)
    assert status["channels"]["messages_applied"] == 2
    assert status["channels"]["messages_rejected"] == 1


async def test_params_route_applies_like_a_control_message(api: StreamAPI) -> None:
    async with publishing(f"{api.trickle.url}/s1"):
        assert (await api.client.post("/stream/start", json=api.body())).status_code == 200
        response = await api.client.post("/stream/s1/params", json={"prompt": PASSTHROUGH})
        assert response.status_code == 200, response.text
        reader = Reader(source(f"{api.trickle.url}/s1-out"))
        try:
            await reader.wait_for(
                lambda r: r.frames and abs(centre(r.frames[-1]) - BACKGROUND) < 12
            )
        finally:
            await reader.close()
        response = await api.client.post("/stream/s1/params", json={"prompt": {"x": 1}})
        assert response.status_code == 400 and "prompt" in response.json()["errors"]


async def test_a_stream_whose_input_ends_is_removed(api: StreamAPI) -> None:
    async with publishing(f"{api.trickle.url}/s1"):
        assert (await api.client.post("/stream/start", json=api.body())).status_code == 200
        await until(lambda: api.reconciler.flows["s1"].graph.counters().frames_in > 5)
    # The publisher deleted the input channel: the flow completes and the stream goes.
    await until(lambda: "s1" not in api.reconciler.flows)
    assert (await api.client.get("/streams")).json()["count"] == 0
    assert [e.reason for e in api.reconciler.events.for_flow("s1")][-2:] == [
        "StreamEnded",
        "Removed",
    ]


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def own_threads() -> int:
    """Threads other than the event loop's default executor (a bounded pool that
    ``asyncio.to_thread`` grows on demand and keeps)."""
    return sum(not t.name.startswith("asyncio_") for t in threading.enumerate())


@pytest.mark.slow
@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc to count fds")
async def test_start_stop_cycles_leave_no_tasks_threads_or_sockets(api: StreamAPI) -> None:
    async def cycle(index: int) -> None:
        body = api.body(f"c{index}")  # nobody publishes: the source waits for the channel
        base = body["subscribe_url"]
        body.update(control_url=f"{base}-control", events_url=f"{base}-events")
        response = await api.client.post("/stream/start", json=body)
        assert response.status_code == 200, response.text
        assert (await api.client.post(f"/stream/c{index}/stop")).status_code == 200

    await cycle(-1)  # warm up what is created once (thread pools of the loop, clients)
    await asyncio.sleep(0.5)
    baseline = (len(asyncio.all_tasks()), own_threads(), open_fds())
    for index in range(200):
        await cycle(index)
    await until(
        lambda: all(
            now <= then
            for now, then in zip(
                (len(asyncio.all_tasks()), own_threads(), open_fds()), baseline, strict=True
            )
        ),
        timeout=30,
    )
    assert api.reconciler.flows == {} and api.channels.flows == {}


@pytest.mark.slow
async def test_serve_command(server: TrickleServer) -> None:
    port = free_port()
    command = [sys.executable, "-m", "rtcflow.cli", "--log-level", "WARNING", "serve"]
    process = await asyncio.create_subprocess_exec(
        *command, "--port", str(port), "--device", "cpu", stdout=asyncio.subprocess.PIPE
    )
    try:
        assert process.stdout is not None
        line = await asyncio.wait_for(process.stdout.readline(), 30)
        assert line.decode().strip() == f"stream API: http://127.0.0.1:{port}/stream/start"
        body = StreamAPI(None, None, None, server).body()  # type: ignore[arg-type]
        async with publishing(f"{server.url}/s1"), httpx.AsyncClient(timeout=30) as client:
            response = await client.post(f"http://127.0.0.1:{port}/stream/start", json=body)
            assert response.status_code == 200, response.text
            reader = Reader(source(f"{server.url}/s1-out"))
            try:
                await reader.wait_for(lambda r: len(r.frames) >= 5)
            finally:
                await reader.close()
    finally:
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), 30) == 0
    assert "s1-out" not in server.channels  # stopping the process stopped the stream
