"""The preview sink on the control API: the page, WHEP for players, and its errors."""

from __future__ import annotations

import asyncio
import gc
import os
import threading
from pathlib import Path

import httpx
import pytest
from aiortc import RTCPeerConnection

from rtcflow.protocols.webrtc import FrameTrack, SessionClosed, SessionState, WhepClient, WhipClient
from tests.webrtc_flows.flows_testing import (
    LEFT,
    RIGHT,
    close_to,
    inverted,
    solid_feeder,
    until,
    write_two_colour_clip,
)

TESTSRC_PREVIEW = """
    apiVersion: rtcflow/v1
    kind: Flow
    metadata: {name: show}
    spec:
      video: {width: 128, height: 96, fps: 30}
      source: {type: testsrc}
      steps: [{name: fx}]
      sinks: [{name: preview, type: preview}]
"""


async def test_whep_player_plays_the_flow_output(run_flows) -> None:
    flows = await run_flows(TESTSRC_PREVIEW)
    async with WhepClient(f"{flows.url}/flows/show/whep", codec="vp8") as player:
        receiver = await player.start()
        frame = await receiver.next()
        assert (frame.width, frame.height) == (128, 96)
        assert player.state == SessionState.CONNECTED
        sink = flows.status("show")["sinks"]["preview"]
        assert sink["players"] == 1
    await until(lambda: flows.status("show")["sinks"]["preview"]["players"] == 0)


async def test_page_is_served_for_known_flows_only(run_flows) -> None:
    flows = await run_flows(TESTSRC_PREVIEW)
    async with httpx.AsyncClient(base_url=flows.url) as http:
        page = await http.get("/flows/show")
        missing = await http.get("/flows/nope")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "/whep" in page.text and "/status" in page.text
    assert missing.status_code == 404 and "no flow named nope" in missing.text


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ("v=0\r\nthis is not sdp\r\n", 400, "malformed SDP offer: line 2"),
        ("", 406, ""),
    ],
)
async def test_whep_answers_bad_offers_clearly(run_flows, body, status, message) -> None:
    flows = await run_flows(TESTSRC_PREVIEW)
    await until(lambda: flows.status("show")["sinks"]["preview"]["frames_published"] > 0)
    async with httpx.AsyncClient(base_url=flows.url) as http:
        response = await http.post(
            "/flows/show/whep", content=body, headers={"Content-Type": "application/sdp"}
        )
        if "location" in response.headers:
            await http.delete(response.headers["location"])
    assert response.status_code == status, response.text
    assert message in response.text


async def test_libwebrtc_player_with_trickle_sees_the_processed_output(
    run_flows, node_peer, tmp_path: Path
) -> None:
    write_two_colour_clip(tmp_path / "clip.mp4")
    flows = await run_flows(
        """
        apiVersion: rtcflow/v1
        kind: Flow
        metadata: {name: show}
        spec:
          video: {width: 128, height: 96, fps: 30}
          source: {type: file, path: clip.mp4, loop: true}
          steps: [{name: invert}]
          sinks: [{name: preview, type: preview}]
        """
    )
    await until(lambda: flows.status("show")["sinks"]["preview"]["frames_published"] > 0)
    player = await node_peer("whep-player.mjs", f"{flows.url}/flows/show/whep")
    created = await player.wait_for(lambda e: e["event"] == "created")
    assert created["mode"] == "client-offer"
    stats = await player.wait_for(lambda e: e["event"] == "stats" and e["frames"] > 20)
    assert (stats["width"], stats["height"]) == (128, 96)
    assert close_to(stats["left"], inverted(LEFT)), stats
    assert close_to(stats["right"], inverted(RIGHT)), stats
    done = await player.stop()
    assert done["deleted"] == 200
    assert done["patches"] and set(done["patches"]) == {204}  # trickle ICE was accepted
    await until(lambda: flows.status("show")["sinks"]["preview"]["players"] == 0)


INGEST_PREVIEW = """
    apiVersion: rtcflow/v1
    kind: Flow
    metadata: {name: live}
    spec:
      video: {width: 64, height: 48, fps: 30}
      source: {type: whip}
      sinks: [{name: preview, type: preview}]
    ---
    apiVersion: rtcflow/v1
    kind: Flow
    metadata: {name: dark}
    spec:
      video: {width: 64, height: 48, fps: 30}
      source: {type: testsrc}
"""


async def test_not_live_and_missing_previews_are_told_apart(run_flows) -> None:
    flows = await run_flows(INGEST_PREVIEW)
    async with httpx.AsyncClient(base_url=flows.url) as http:
        headers = {"Content-Type": "application/sdp"}
        waiting = await http.post("/flows/live/whep", content="v=0\r\n", headers=headers)
        none = await http.post("/flows/dark/whep", content="v=0\r\n", headers=headers)
    assert waiting.status_code == 409 and waiting.headers["Retry-After"] == "1"
    assert "not live yet" in waiting.text
    assert none.status_code == 404
    assert "flow 'dark' is not running with a preview sink" in none.text


async def test_removing_the_sink_ends_its_players_sessions(run_flows) -> None:
    flows = await run_flows(TESTSRC_PREVIEW)
    async with WhepClient(f"{flows.url}/flows/show/whep", codec="vp8") as player:
        await player.start()
        await flows.rewrite(TESTSRC_PREVIEW.replace("[{name: preview, type: preview}]", "[]"))
        reason = await asyncio.wait_for(player.wait_closed(), 20)
    assert isinstance(reason, SessionClosed)
    assert "preview" not in flows.status("show")["sinks"]


def peer_connections() -> int:
    gc.collect()
    return sum(type(o) is RTCPeerConnection for o in gc.get_objects())


def threads() -> tuple[int, int]:
    """(threads outside the loop's default executor, executor workers)."""
    names = [t.name for t in threading.enumerate()]
    pool = sum(name.startswith("asyncio_") for name in names)
    return len(names) - pool, pool


@pytest.mark.slow
async def test_rapid_connect_disconnect_cycles_leave_nothing_behind(run_flows) -> None:
    """Publishers (WHIP ingest) and players (preview) come and go 100 times."""
    flows = await run_flows(INGEST_PREVIEW)
    ingest, preview = f"{flows.url}/flows/live/whip", f"{flows.url}/flows/live/whep"
    track = FrameTrack(fps=60)

    async def cycle(index: int) -> None:
        if index % 2:
            async with WhepClient(preview, codec="vp8") as player:
                await player.start()
            assert player.state == SessionState.CLOSED
        else:
            async with WhipClient(ingest, codec="vp8") as publisher:
                await publisher.start(track)
            assert publisher.state == SessionState.CLOSED

    async with solid_feeder(track, (90, 90, 90), 64, 48, fps=60):
        async with WhipClient(ingest, codec="vp8") as first:  # the preview goes live
            await first.start(track)
            await until(lambda: flows.status("live")["sinks"]["preview"]["frames_published"] > 0)
        await cycle(1)  # warm up: executor threads, codec contexts
        await asyncio.sleep(0.5)
        tasks, (own_threads, _), peers = len(asyncio.all_tasks()), threads(), peer_connections()
        for index in range(2, 102):
            await cycle(index)
        await asyncio.sleep(1.0)  # server-side closes triggered by the DELETEs finish
        source = flows.status("live")["source"]
        assert source["publishers"] == 51 and source["publishing"] is False
        assert flows.status("live")["sinks"]["preview"]["players"] == 0
        assert len(asyncio.all_tasks()) <= tasks
        assert peer_connections() <= peers
        own_after, pool_after = threads()
        assert own_after <= own_threads  # aiortc's decoder threads all ended
        assert pool_after <= min(32, (os.cpu_count() or 1) + 4)  # the bounded default pool
