"""The whep source: playing a WHEP stream into a flow, waiting for it, reconnecting."""

from __future__ import annotations

import asyncio

import pytest
from aiohttp import web

from rtcflow.protocols.webrtc import FrameBroadcaster, WebRTCServer, WhepClient, WhepEndpoint
from tests.webrtc_flows.flows_testing import (
    LEFT,
    RIGHT,
    close_to,
    halves,
    inverted,
    two_colour,
    until,
)


def playing_flow(url: str, token: str = "") -> str:
    return f"""
        apiVersion: rtcflow/v1
        kind: Flow
        metadata: {{name: in}}
        spec:
          video: {{width: 64, height: 48, fps: 30}}
          source: {{type: whep, url: "{url}"{token}}}
          steps: [{{name: invert}}]
          sinks: [{{name: preview, type: preview}}]
    """


async def play_output(url: str):
    """One output frame of the flow, through its preview."""
    async with WhepClient(f"{url}/flows/in/whep") as player:
        receiver = await player.start()
        await receiver.next()
        return await receiver.next()


@pytest.mark.parametrize("mode", ["client-offer", "counter-offer"])
async def test_plays_libwebrtc_through_a_307(run_flows, node_peer, mode: str) -> None:
    server = await node_peer(
        "whep-server.mjs", *(["--counter-offer"] if mode != "client-offer" else [])
    )
    port = (await server.wait_for(lambda e: e["event"] == "listening"))["port"]
    flows = await run_flows(playing_flow(f"http://127.0.0.1:{port}/redirect"))
    await until(lambda: flows.status("in")["source"]["frames_received"] > 10)
    assert flows.status("in")["source"]["state"] == "connected"
    frame = await play_output(flows.url)  # 128x96 fitted to 64x48, then inverted
    assert (frame.width, frame.height) == (64, 48)
    left, right = halves(frame)
    assert close_to(left, inverted(LEFT)) and close_to(right, inverted(RIGHT)), (left, right)
    await flows.reconciler.stop_all()  # the source DELETEs its session
    await server.wait_for(lambda e: e["event"] == "deleted")


async def test_waits_through_404s_until_the_stream_is_live(run_flows) -> None:
    broadcaster = FrameBroadcaster(fps=30)
    server = WebRTCServer()
    server.mount("/whep", WhepEndpoint(broadcaster, not_live_status=404))
    answers: list[int] = []

    @web.middleware
    async def count(request: web.Request, handler) -> web.StreamResponse:
        response = await handler(request)
        if request.method == "POST":
            answers.append(response.status)
        return response

    server.app.middlewares.append(count)
    base = await server.start()
    try:
        flows = await run_flows(playing_flow(f"{base}/whep"))
        await asyncio.sleep(5)  # Livepeer's gateway answers 404 until output exists
        assert answers and set(answers) == {404}
        assert flows.status("in")["source"]["frames_received"] == 0
        index = 0

        async def publish() -> None:
            nonlocal index
            while True:
                broadcaster.publish(two_colour(pts=index))
                index += 1
                await asyncio.sleep(1 / 30)

        feeder = asyncio.create_task(publish())
        try:
            await until(lambda: flows.status("in")["source"]["frames_received"] > 10)
            assert answers[-1] == 201 and flows.status("in")["source"]["sessions"] == 1
        finally:
            feeder.cancel()
    finally:
        await server.close()


async def test_reconnects_when_the_server_comes_back(run_flows) -> None:
    broadcaster = FrameBroadcaster(fps=30)
    broadcaster.publish(two_colour())
    server = WebRTCServer()
    server.mount("/whep", WhepEndpoint(broadcaster))
    base = await server.start()
    flows = await run_flows(playing_flow(f"{base}/whep"))
    source = lambda: flows.status("in")["source"]  # noqa: E731
    await until(lambda: source()["frames_received"] > 5)
    await server.close()
    await until(lambda: source()["last_error"] is not None)
    assert flows.status("in")["phase"] == "Running"

    returned = WebRTCServer(port=server.port)
    returned.mount("/whep", WhepEndpoint(broadcaster))
    await returned.start()
    try:
        received = source()["frames_received"]
        await until(lambda: source()["frames_received"] > received + 5, timeout=20)
        assert source()["sessions"] == 2 and source()["last_error"] is None
    finally:
        await returned.close()


async def test_a_refused_token_fails_the_flow_with_the_servers_answer(run_flows) -> None:
    broadcaster = FrameBroadcaster(fps=30)
    broadcaster.publish(two_colour())
    server = WebRTCServer()
    server.mount("/whep", WhepEndpoint(broadcaster, token="right"))
    base = await server.start()
    try:
        flows = await run_flows(
            playing_flow(f"{base}/whep", token=", token: '${WHEP_TOKEN}'"),
            environ={"WHEP_TOKEN": "wr0ng-t0ken"},
        )
        await until(lambda: flows.status("in")["phase"] == "Failed")
        error = flows.status("in")["error"]
        assert "401" in error and "Bearer token is required" in error
        assert "wr0ng-t0ken" not in flows.reconciler.status()[0].model_dump_json()
    finally:
        await server.close()
