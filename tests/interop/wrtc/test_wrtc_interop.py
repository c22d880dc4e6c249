"""rtcflow against Google's libwebrtc (Node, @roamhq/wrtc) in all four directions.

Each test checks that real frames flow: decoded frame counts and the two colours of
the source, sampled on the receiving side. libwebrtc trickles its candidates with
PATCH when it is the client; every client goes through a 307 redirect.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from rtcflow.media.frame import VideoFrame
from rtcflow.protocols.webrtc import (
    FrameBroadcaster,
    FrameTrack,
    ServerSession,
    WebRTCServer,
    WhepClient,
    WhepEndpoint,
    WhipClient,
    WhipEndpoint,
)
from tests.interop.wrtc.wrtc_harness import (
    LEFT,
    RIGHT,
    Event,
    NodePeer,
    close_to,
    halves,
    two_colour_frame,
)

StartPeer = Callable[..., Awaitable[NodePeer]]


@contextlib.asynccontextmanager
async def feeding(put: Callable[[VideoFrame], None]) -> AsyncIterator[None]:
    async def run() -> None:
        index = 0
        while True:
            put(two_colour_frame(index))
            index += 1
            await asyncio.sleep(1 / 30)

    task = asyncio.create_task(run())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def shows_two_colours(event: Event, frames: int = 10) -> bool:
    return (
        event["event"] in ("stats", "deleted")
        and event.get("frames", 0) >= frames
        and (event.get("width"), event.get("height")) == (128, 96)
        and close_to(event.get("left"), LEFT)
        and close_to(event.get("right"), RIGHT)
    )


async def test_libwebrtc_publishes_to_our_whip_endpoint(
    server: WebRTCServer, node_peer: StartPeer
) -> None:
    frames: list[VideoFrame] = []

    async def collect(session: ServerSession) -> None:
        assert session.receiver is not None
        async for frame in session.receiver:
            frames.append(frame)

    endpoint = WhipEndpoint(collect, token="tok")
    server.mount("/whip", endpoint)
    server.redirect("/old", "/whip")
    base = await server.start()
    peer = await node_peer("whip-client.mjs", f"{base}/old", "tok")
    created = await peer.wait_for(lambda e: e["event"] == "created")
    (session,) = endpoint.sessions.values()
    assert created["redirected"] and created["session"] == f"{base}/whip/{session.id}"
    await peer.wait_for(lambda e: e["event"] == "stats" and e["state"] == "connected")
    async with asyncio.timeout(60):
        while len(frames) < 10:
            await asyncio.sleep(0.05)
    left, right = halves(frames[-1])
    assert (frames[-1].width, frames[-1].height) == (128, 96)
    assert close_to(left, LEFT) and close_to(right, RIGHT)

    done = await peer.stop()
    assert done["deleted"] == 200 and endpoint.sessions == {}
    assert done["patches"] and set(done["patches"]) == {204}  # trickle ICE was accepted


async def test_our_whip_client_publishes_to_libwebrtc(node_peer: StartPeer) -> None:
    peer = await node_peer("whip-server.mjs", "tok")
    port = (await peer.wait_for(lambda e: e["event"] == "listening"))["port"]
    track = FrameTrack()
    client = WhipClient(f"http://127.0.0.1:{port}/redirect", token="tok", codec="vp8")
    async with feeding(track.put):
        await client.start(track)
        assert client.session_url is not None
        assert client.session_url.startswith(f"http://127.0.0.1:{port}/whip/")
        await peer.wait_for(shows_two_colours)
        await client.stop()
    deleted = await peer.wait_for(lambda e: e["event"] == "deleted")
    assert deleted["frames"] >= 10
    await peer.stop()


@pytest.mark.parametrize("counter_offer", [False, True], ids=["client-offer", "counter-offer"])
async def test_libwebrtc_plays_our_whep_endpoint(
    server: WebRTCServer, node_peer: StartPeer, counter_offer: bool
) -> None:
    broadcaster = FrameBroadcaster()
    endpoint = WhepEndpoint(broadcaster, counter_offer=counter_offer)
    server.mount("/whep", endpoint)
    server.redirect("/old", "/whep")
    base = await server.start()
    async with feeding(broadcaster.publish):
        peer = await node_peer("whep-player.mjs", f"{base}/old")
        created = await peer.wait_for(lambda e: e["event"] == "created")
        assert created["mode"] == ("counter-offer" if counter_offer else "client-offer")
        assert created["redirected"]
        await peer.wait_for(shows_two_colours)
        done = await peer.stop()
    assert done["deleted"] == 200 and endpoint.sessions == {} and broadcaster.players == 0
    assert done["patches"] and set(done["patches"]) == {204}


@pytest.mark.parametrize("counter_offer", [False, True], ids=["client-offer", "counter-offer"])
async def test_our_whep_client_plays_libwebrtc(node_peer: StartPeer, counter_offer: bool) -> None:
    peer = await node_peer("whep-server.mjs", *(["--counter-offer"] if counter_offer else []))
    port = (await peer.wait_for(lambda e: e["event"] == "listening"))["port"]
    async with WhepClient(f"http://127.0.0.1:{port}/redirect") as client:
        receiver = await client.start()
        assert client.counter_offer is counter_offer
        for _ in range(10):
            frame = await asyncio.wait_for(receiver.next(), 30)
        left, right = halves(frame)
        assert (frame.width, frame.height) == (128, 96)
        assert close_to(left, LEFT) and close_to(right, RIGHT)
    await peer.wait_for(lambda e: e["event"] == "deleted")
    await peer.stop()
