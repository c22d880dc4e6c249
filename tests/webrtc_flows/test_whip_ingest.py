"""WHIP ingest: publishers send video into a flow through the control API."""

from __future__ import annotations

import httpx
import pytest

from rtcflow.protocols.webrtc import FrameTrack, WhepClient, WhipClient
from tests.webrtc_flows.flows_testing import (
    LEFT,
    RIGHT,
    close_to,
    halves,
    inverted,
    solid_feeder,
    until,
)

INGEST = """
    apiVersion: rtcflow/v1
    kind: Flow
    metadata: {name: ingest}
    spec:
      video: {width: 64, height: 48, fps: 30}
      source: {type: whip, token: "${INGEST_TOKEN}"}
      steps: [{name: invert}]
      sinks: [{name: preview, type: preview}]
    ---
    apiVersion: rtcflow/v1
    kind: Flow
    metadata: {name: other}
    spec:
      video: {width: 64, height: 48, fps: 30}
      source: {type: testsrc}
"""
TOKEN = "s3cret-ingest"


async def test_libwebrtc_publisher_with_trickle_reaches_the_flow(run_flows, node_peer) -> None:
    flows = await run_flows(INGEST, environ={"INGEST_TOKEN": TOKEN})
    publisher = await node_peer("whip-client.mjs", f"{flows.url}/flows/ingest/whip", TOKEN)
    created = await publisher.wait_for(lambda e: e["event"] == "created")
    assert created["session"].startswith(f"{flows.url}/flows/ingest/whip/")
    await publisher.wait_for(lambda e: e["event"] == "stats" and e["state"] == "connected")
    await until(lambda: flows.status("ingest")["source"]["frames_received"] > 10)
    assert flows.status("ingest")["source"]["publishing"] is True

    # The processed output, played back over the preview: 128x96 fitted to 64x48, inverted.
    async with WhepClient(f"{flows.url}/flows/ingest/whep") as player:
        receiver = await player.start()
        frame = await receiver.next()
        frame = await receiver.next()
    assert (frame.width, frame.height) == (64, 48)
    left, right = halves(frame)
    assert close_to(left, inverted(LEFT)) and close_to(right, inverted(RIGHT)), (left, right)

    done = await publisher.stop()
    assert done["deleted"] == 200
    assert done["patches"] and set(done["patches"]) == {204}  # trickle ICE was accepted
    await until(lambda: flows.status("ingest")["source"]["publishing"] is False)


@pytest.mark.parametrize(
    ("path", "headers", "body", "status", "message"),
    [
        ("/flows/ingest/whip", {}, "v=0\r\n", 401, "Bearer token is required"),
        ("/flows/ingest/whip", {"Authorization": "Bearer wrong"}, "v=0\r\n", 401, "Bearer"),
        (
            "/flows/ingest/whip",
            {"Authorization": f"Bearer {TOKEN}"},
            "v=0\r\nm=video\r\n",
            400,
            "malformed SDP offer",
        ),
        (
            "/flows/ingest/whip",
            {"Authorization": f"Bearer {TOKEN}"},
            "",
            400,
            "needs an application/sdp offer",
        ),
        ("/flows/other/whip", {}, "v=0\r\n", 404, "flow 'other' is not running with a whip source"),
        ("/flows/nope/whip", {}, "v=0\r\n", 404, "flow 'nope' is not running with a whip source"),
    ],
)
async def test_bad_requests_get_clear_answers(run_flows, path, headers, body, status, message):
    flows = await run_flows(INGEST, environ={"INGEST_TOKEN": TOKEN})
    async with httpx.AsyncClient(base_url=flows.url) as http:
        response = await http.post(
            path, content=body, headers={"Content-Type": "application/sdp", **headers}
        )
    assert response.status_code == status, response.text
    assert message in response.text
    if status == 401:
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert TOKEN not in response.text


async def test_a_new_publisher_replaces_the_current_one(run_flows) -> None:
    flows = await run_flows(INGEST, environ={"INGEST_TOKEN": TOKEN})
    url = f"{flows.url}/flows/ingest/whip"
    first_track, second_track = FrameTrack(), FrameTrack()
    async with (
        WhipClient(url, token=TOKEN, codec="vp8") as first,
        WhipClient(url, token=TOKEN, codec="vp8") as second,
        solid_feeder(first_track, (250, 250, 250), 64, 48),
        solid_feeder(second_track, (10, 10, 10), 64, 48),
    ):
        await first.start(first_track)
        await until(lambda: flows.status("ingest")["source"]["frames_received"] > 0)
        await second.start(second_track)
        reason = await first.wait_closed()  # the server closed the replaced session
        assert reason is not None and "closed" in str(reason)
        source = flows.status("ingest")["source"]
        assert source["publishers"] == 2 and source["publishing"] is True
        async with WhepClient(f"{flows.url}/flows/ingest/whep") as player:
            receiver = await player.start()
            await until(lambda: receiver.received > 3)
            frame = await receiver.next()
        assert close_to(frame.data[24, 32].tolist(), (245, 245, 245))  # 10 inverted
