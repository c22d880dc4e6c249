"""The endpoints' HTTP rules (RFC 9725 sections 4.2-4.7, RFC 8840), probed with httpx."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
from aiortc import RTCPeerConnection
from webrtc_testing import two_colour

from rtcflow.protocols.webrtc import (
    FrameBroadcaster,
    FrameTrack,
    ServerSession,
    WebRTCServer,
    WhepEndpoint,
    WhipEndpoint,
)

SDP = {"Content-Type": "application/sdp"}
SDPFRAG = "application/trickle-ice-sdpfrag"


async def idle(session: ServerSession) -> None:
    await session.wait_closed()


@pytest.fixture
async def peers() -> AsyncIterator[list[RTCPeerConnection]]:
    """Client-side peer connections made by a test, closed after it."""
    made: list[RTCPeerConnection] = []
    yield made
    await asyncio.gather(*(pc.close() for pc in made))


async def make_offer(peers: list[RTCPeerConnection], *kinds_directions: tuple[str, str]) -> str:
    pc = RTCPeerConnection()
    peers.append(pc)
    for kind, direction in kinds_directions:
        if kind == "video" and direction == "sendonly":
            track = FrameTrack()
            track.put(two_colour())
            pc.addTransceiver(track, direction=direction)
        else:
            pc.addTransceiver(kind, direction=direction)
    await pc.setLocalDescription(await pc.createOffer())
    return pc.localDescription.sdp


@pytest.fixture
async def whip(server: WebRTCServer) -> AsyncIterator[tuple[httpx.AsyncClient, WhipEndpoint]]:
    endpoint = WhipEndpoint(idle, token="secret", connect_timeout=60)
    server.mount("/whip", endpoint)
    base = await server.start()
    headers = {"Authorization": "Bearer secret"}
    async with httpx.AsyncClient(base_url=base, headers=headers) as http:
        yield http, endpoint


async def test_options_advertises_sdp_and_cors_without_credentials(whip) -> None:  # type: ignore[no-untyped-def]
    http, _ = whip
    response = await http.options("/whip", headers={"Authorization": ""})
    assert response.status_code == 204
    assert response.headers["Accept-Post"] == "application/sdp"
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert "PATCH" in response.headers["Access-Control-Allow-Methods"]
    for header in ("Authorization", "Content-Type", "If-Match"):
        assert header in response.headers["Access-Control-Allow-Headers"]


async def test_bearer_token_is_required(whip, peers) -> None:  # type: ignore[no-untyped-def]
    http, endpoint = whip
    offer = await make_offer(peers, ("video", "sendonly"))
    missing = await http.post("/whip", content=offer, headers={**SDP, "Authorization": ""})
    assert missing.status_code == 401
    assert missing.headers["WWW-Authenticate"] == 'Bearer realm="rtcflow"'
    assert missing.headers["Access-Control-Allow-Origin"] == "*"  # browsers can read it
    wrong = await http.post("/whip", content=offer, headers={**SDP, "Authorization": "Bearer x"})
    assert wrong.status_code == 401
    assert 'error="invalid_token"' in wrong.headers["WWW-Authenticate"]
    assert endpoint.sessions == {}


@pytest.mark.parametrize(
    ("body", "content_type", "status", "message"),
    [
        ("v=0\r\nthis is not sdp\r\n", "application/sdp", 400, "malformed SDP offer"),
        ("", "application/sdp", 400, "needs an application/sdp offer"),
        ("v=0\r\n", "text/plain", 415, "must be application/sdp"),
    ],
)
async def test_bad_offers_are_rejected_with_a_message(  # type: ignore[no-untyped-def]
    whip, body: str, content_type: str, status: int, message: str
) -> None:
    http, endpoint = whip
    response = await http.post("/whip", content=body, headers={"Content-Type": content_type})
    assert response.status_code == status
    assert message in response.text
    assert endpoint.sessions == {}


async def test_an_offer_without_video_is_unprocessable(whip, peers) -> None:  # type: ignore[no-untyped-def]
    http, _ = whip
    offer = await make_offer(peers, ("audio", "sendonly"))
    response = await http.post("/whip", content=offer, headers=SDP)
    assert response.status_code == 422
    assert "sends no video" in response.text


async def test_an_offer_without_a_common_codec_is_unprocessable(whip, peers) -> None:  # type: ignore[no-untyped-def]
    http, endpoint = whip
    offer = await make_offer(peers, ("video", "sendonly"))
    unknown = offer.replace("VP8/90000", "XV9/90000").replace("H264/90000", "XH9/90000")
    response = await http.post("/whip", content=unknown, headers=SDP)
    assert response.status_code == 422
    assert "no video codec in common" in response.text
    assert endpoint.sessions == {}


async def test_audio_is_answered_inactive_and_video_recvonly(whip, peers) -> None:  # type: ignore[no-untyped-def]
    http, endpoint = whip
    offer = await make_offer(peers, ("audio", "sendonly"), ("video", "sendonly"))
    response = await http.post("/whip", content=offer, headers=SDP)
    assert response.status_code == 201
    audio, video = response.text.split("m=")[1:]
    assert audio.startswith("audio") and "a=inactive" in audio
    assert video.startswith("video") and "a=recvonly" in video
    assert len(endpoint.sessions) == 1


async def test_session_resource_trickle_and_delete(whip, peers) -> None:  # type: ignore[no-untyped-def]
    http, endpoint = whip
    offer = await make_offer(peers, ("video", "sendonly"))
    # A trickling client posts before gathering: no candidates, no end-of-candidates.
    offer = "".join(
        line
        for line in offer.splitlines(keepends=True)
        if not line.startswith(("a=candidate:", "a=end-of-candidates"))
    )
    created = await http.post("/whip", content=offer, headers=SDP)
    assert created.status_code == 201
    assert created.headers["Content-Type"].startswith("application/sdp")
    location, etag = created.headers["Location"], created.headers["ETag"]
    assert location.startswith("/whip/") and etag.startswith('"')
    (session,) = endpoint.sessions.values()
    assert location == f"/whip/{session.id}"
    ufrag = next(line for line in offer.splitlines() if line.startswith("a=ice-ufrag:"))
    fragment = (
        f"{ufrag}\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\na=mid:0\r\n"
        "a=candidate:1 1 udp 2122260223 192.0.2.7 50000 typ host\r\n"
    )
    trickle = {"Content-Type": SDPFRAG}

    async def patch(body: str, **headers: str) -> httpx.Response:
        return await http.patch(location, content=body, headers={**trickle, **headers})

    assert (await patch(fragment)).status_code == 428
    assert (await patch(fragment, **{"If-Match": '"stale"'})).status_code == 412
    restart = await patch(fragment, **{"If-Match": "*"})
    assert restart.status_code == 422 and "ICE restart" in restart.text
    foreign = await patch("a=ice-ufrag:nope\r\n", **{"If-Match": etag})
    assert foreign.status_code == 422
    bad = await patch("m=video 9 X 0\r\na=candidate:broken\r\n", **{"If-Match": etag})
    assert bad.status_code == 400 and "line 2" in bad.text
    wrong_type = await http.patch(location, content="x", headers={"Content-Type": "text/plain"})
    assert wrong_type.status_code == 415 and wrong_type.headers["Accept-Patch"] == SDPFRAG

    assert (await patch(fragment, **{"If-Match": etag})).status_code == 204
    ice = session.pc.getTransceivers()[0].receiver.transport.transport
    assert ("192.0.2.7", 50000) in [(c.ip, c.port) for c in ice.getRemoteCandidates()]
    ended = await patch("a=end-of-candidates\r\n", **{"If-Match": etag})
    assert ended.status_code == 204

    assert (await http.delete(location)).status_code == 200
    assert endpoint.sessions == {} and session.closed
    assert (await http.delete(location)).status_code == 404
    assert (await patch(fragment, **{"If-Match": etag})).status_code == 404


async def test_sessions_that_never_connect_are_dropped(server: WebRTCServer, peers) -> None:  # type: ignore[no-untyped-def]
    endpoint = WhipEndpoint(idle, connect_timeout=0.5)
    server.mount("/whip", endpoint)
    base = await server.start()
    offer = await make_offer(peers, ("video", "sendonly"))  # never given the answer
    async with httpx.AsyncClient() as http:
        assert (await http.post(f"{base}/whip", content=offer, headers=SDP)).status_code == 201
    (session,) = endpoint.sessions.values()
    await asyncio.wait_for(session.wait_closed(), 30)
    assert endpoint.sessions == {}


async def test_whep_rejects_offers_it_cannot_serve(server: WebRTCServer, peers) -> None:  # type: ignore[no-untyped-def]
    broadcaster = FrameBroadcaster()
    broadcaster.publish(two_colour())
    endpoint = WhepEndpoint(broadcaster)
    server.mount("/whep", endpoint)
    base = await server.start()
    async with httpx.AsyncClient(base_url=base) as http:
        sending = await make_offer(peers, ("video", "sendonly"))
        response = await http.post("/whep", content=sending, headers=SDP)
        assert response.status_code == 422 and "receives no video" in response.text

        playing = await make_offer(peers, ("video", "recvonly"))
        created = await http.post("/whep", content=playing, headers=SDP)
        assert created.status_code == 201
        again = await http.patch(
            created.headers["Location"], content=playing, headers=SDP
        )  # an SDP PATCH without a pending counter offer
        assert again.status_code == 422 and "no pending offer" in again.text
    assert broadcaster.players == 1
