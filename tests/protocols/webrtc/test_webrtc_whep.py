"""WhepClient against a real WhepEndpoint: both offer modes, not-live retries, limits."""

from __future__ import annotations

import asyncio

import pytest
from aiohttp import web
from webrtc_testing import assert_two_colour, feeding

from rtcflow.protocols.webrtc import (
    FrameBroadcaster,
    ServerUnavailable,
    SessionState,
    WebRTCServer,
    WhepClient,
    WhepEndpoint,
)


@pytest.mark.parametrize("counter_offer", [False, True], ids=["client-offer", "counter-offer"])
async def test_plays_the_broadcast(server: WebRTCServer, counter_offer: bool) -> None:
    broadcaster = FrameBroadcaster(fps=30)
    endpoint = WhepEndpoint(broadcaster, counter_offer=counter_offer, token="t")
    server.mount("/whep", endpoint)
    base = await server.start()
    async with feeding(broadcaster.publish):
        await asyncio.sleep(0.05)
        client = WhepClient(f"{base}/whep", token="t")
        receiver = await client.start()
        assert client.state == SessionState.CONNECTED
        assert client.counter_offer is counter_offer
        (session,) = endpoint.sessions.values()
        assert not session.awaiting_answer
        assert client.session_url == f"{base}/whep/{session.id}"
        frames = [await asyncio.wait_for(receiver.next(), 30) for _ in range(3)]
        assert frames[0].pts < frames[1].pts < frames[2].pts
        assert_two_colour(frames[-1])
        assert broadcaster.players == 1
        await client.stop()
    assert endpoint.sessions == {} and broadcaster.players == 0
    assert receiver.ended


async def test_404_until_live_is_retried_then_plays(server: WebRTCServer) -> None:
    broadcaster = FrameBroadcaster()
    statuses: list[int] = []

    async def record(request: web.Request, response: web.StreamResponse) -> None:
        if request.method == "POST":
            statuses.append(response.status)

    server.app.on_response_prepare.append(record)
    server.mount("/whep", WhepEndpoint(broadcaster, not_live_status=404))
    base = await server.start()
    client = WhepClient(f"{base}/whep", retry_deadline=60)
    starting = asyncio.create_task(client.start())
    await asyncio.sleep(2.0)
    assert not starting.done() and set(statuses) == {404}
    async with feeding(broadcaster.publish):
        receiver = await asyncio.wait_for(starting, 60)
        assert_two_colour(await asyncio.wait_for(receiver.next(), 30))
    assert statuses[-1] == 201 and statuses.count(404) >= 2
    await client.stop()


async def test_not_live_past_the_deadline_raises_with_the_status(server: WebRTCServer) -> None:
    streams = {"on": FrameBroadcaster()}
    server.mount("/whep/{stream}", WhepEndpoint(lambda match: streams.get(match["stream"])))
    base = await server.start()
    client = WhepClient(f"{base}/whep/off", retry_deadline=0.5)
    with pytest.raises(ServerUnavailable) as raised:
        await client.start()
    assert raised.value.status == 409 and raised.value.retry_after == 1.0
    assert "not live" in str(raised.value)
    assert client.state == SessionState.FAILED


async def test_viewer_limit_answers_429(server: WebRTCServer) -> None:
    broadcaster = FrameBroadcaster()
    server.mount("/whep", WhepEndpoint(broadcaster, max_sessions=1))
    base = await server.start()
    async with feeding(broadcaster.publish), WhepClient(f"{base}/whep") as first:
        await first.start()
        second = WhepClient(f"{base}/whep", retry_deadline=0.5)
        with pytest.raises(ServerUnavailable) as raised:
            await second.start()
        assert raised.value.status == 429


async def test_every_player_gets_frames(server: WebRTCServer) -> None:
    broadcaster = FrameBroadcaster()
    server.mount("/whep", WhepEndpoint(broadcaster))
    base = await server.start()
    players = [WhepClient(f"{base}/whep", codec="vp8") for _ in range(3)]
    async with feeding(broadcaster.publish):
        receivers = await asyncio.gather(*(p.start() for p in players))
        assert broadcaster.players == 3
        for receiver in receivers:
            assert_two_colour(await asyncio.wait_for(receiver.next(), 30))
        await asyncio.gather(*(p.stop() for p in players))
    assert broadcaster.players == 0
