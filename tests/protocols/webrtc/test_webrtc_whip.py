"""WhipClient against a real WhipEndpoint on loopback: media, redirects, headers, limits."""

from __future__ import annotations

import asyncio

import pytest
import torch
from aiohttp import web
from aiortc import RTCIceServer
from webrtc_testing import assert_two_colour, feeding, two_colour

from rtcflow.media.frame import VideoFrame
from rtcflow.protocols.webrtc import (
    FrameTrack,
    ServerSession,
    ServerUnavailable,
    SessionState,
    Unauthorized,
    WebRTCServer,
    WhipClient,
    WhipEndpoint,
)


class Collector:
    """A WHIP session handler keeping every frame it takes."""

    def __init__(self) -> None:
        self.frames: list[VideoFrame] = []
        self.sessions: list[ServerSession] = []
        self.finished = asyncio.Event()

    async def __call__(self, session: ServerSession) -> None:
        self.sessions.append(session)
        assert session.receiver is not None
        async for frame in session.receiver:
            self.frames.append(frame)
        self.finished.set()

    async def wait_frames(self, count: int) -> None:
        async with asyncio.timeout(30):
            while len(self.frames) < count:
                await asyncio.sleep(0.05)


@pytest.mark.parametrize(("codec", "rtpmap"), [("h264", "H264/90000"), ("vp8", "VP8/90000")])
async def test_publishes_frames_in_the_chosen_codec(
    server: WebRTCServer, codec: str, rtpmap: str
) -> None:
    collector = Collector()
    endpoint = WhipEndpoint(collector, token="secret")
    server.mount("/whip", endpoint)
    base = await server.start()
    track = FrameTrack(fps=30)
    client = WhipClient(f"{base}/whip", token="secret", codec=codec)  # type: ignore[arg-type]
    async with feeding(track.put):
        await client.start(track)
        assert client.state == SessionState.CONNECTED
        await collector.wait_frames(5)
    assert_two_colour(collector.frames[-1])
    assert rtpmap in client.pc.remoteDescription.sdp  # type: ignore[union-attr]
    other = "VP8/90000" if codec == "h264" else "H264/90000"
    assert other not in client.pc.localDescription.sdp  # type: ignore[union-attr]
    if codec == "h264":
        assert "profile-level-id=42e01f" in client.pc.localDescription.sdp  # type: ignore[union-attr]
    (session,) = endpoint.sessions.values()
    assert client.session_url == f"{base}/whip/{session.id}"
    assert client.etag == session.etag
    assert client.response_headers["Accept-Patch"] == "application/trickle-ice-sdpfrag"

    await client.stop()
    assert client.state == SessionState.CLOSED and await client.wait_closed() is None
    assert endpoint.sessions == {}
    await asyncio.wait_for(collector.finished.wait(), 10)  # the publisher's frames ended
    assert track.readyState == "live"  # the caller's track is the caller's to stop


async def test_follows_307_and_resolves_location_against_the_final_url(
    server: WebRTCServer,
) -> None:
    collector = Collector()
    target = WebRTCServer()
    endpoint = WhipEndpoint(collector)
    target.mount("/live/whip", endpoint)
    target_base = await target.start()
    server.redirect("/ingest", f"{target_base}/live/whip")  # to another origin
    server.redirect("/moved", "/ingest")  # a relative hop first
    base = await server.start()
    track = FrameTrack()
    track.put(two_colour())
    try:
        async with WhipClient(f"{base}/moved") as client:
            await client.start(track)
            (session,) = endpoint.sessions.values()
            assert client.session_url == f"{target_base}/live/whip/{session.id}"
            await collector.wait_frames(1)
        assert endpoint.sessions == {}  # DELETE reached the final server
    finally:
        await target.close()


async def test_response_headers_are_kept(server: WebRTCServer) -> None:
    async def add_playback_url(request: web.Request, response: web.StreamResponse) -> None:
        if request.method == "POST":
            response.headers["Livepeer-Playback-URL"] = "https://example.com/hls/abc.m3u8"

    server.app.on_response_prepare.append(add_playback_url)
    server.mount("/whip", WhipEndpoint(Collector()))
    base = await server.start()
    track = FrameTrack()
    track.put(two_colour())
    async with WhipClient(f"{base}/whip", codec="vp8") as client:
        await client.start(track)
        assert (
            client.response_headers["Livepeer-Playback-URL"] == "https://example.com/hls/abc.m3u8"
        )


async def test_bitrate_sets_the_encoder_target_and_the_bytes_sent(server: WebRTCServer) -> None:
    server.mount("/whip", WhipEndpoint(Collector()))
    base = await server.start()
    generator = torch.Generator().manual_seed(1)

    def noise(index: int) -> VideoFrame:  # incompressible: the encoder spends its budget
        data = torch.randint(0, 256, (144, 176, 3), dtype=torch.uint8, generator=generator)
        return VideoFrame(data, pts=index, time_base=two_colour().time_base)

    low, high = FrameTrack(), FrameTrack()

    def put(frame: VideoFrame) -> None:
        low.put(frame)
        high.put(frame)

    async def bytes_sent(client: WhipClient) -> int:
        stats = await client.pc.getStats()  # type: ignore[union-attr]
        return next(s.bytesSent for s in stats.values() if s.type == "outbound-rtp")

    async with (
        WhipClient(f"{base}/whip", codec="h264", bitrate=500_000) as slow,
        WhipClient(f"{base}/whip", codec="h264", bitrate=2_500_000) as fast,
        feeding(put, noise),
    ):
        await asyncio.gather(slow.start(low), fast.start(high))
        await asyncio.sleep(1.0)  # past the first keyframes
        before = [await bytes_sent(slow), await bytes_sent(fast)]
        await asyncio.sleep(2.0)
        after = [await bytes_sent(slow), await bytes_sent(fast)]
        assert (slow.encoder_bitrate, fast.encoder_bitrate) == (500_000, 2_500_000)
    slow_bytes, fast_bytes = (b - a for a, b in zip(before, after, strict=True))
    assert fast_bytes > 2 * slow_bytes


async def test_wrong_token_raises_unauthorized_with_the_servers_text(server: WebRTCServer) -> None:
    server.mount("/whip", WhipEndpoint(Collector(), token="right"))
    base = await server.start()
    client = WhipClient(f"{base}/whip", token="wrong")
    with pytest.raises(Unauthorized) as raised:
        await client.start(FrameTrack())
    assert raised.value.status == 401
    assert "Bearer token is required" in str(raised.value)
    assert client.state == SessionState.FAILED and client.error is raised.value


async def test_503_is_retried_after_retry_after_until_the_deadline(server: WebRTCServer) -> None:
    endpoint = WhipEndpoint(Collector(), max_sessions=1)
    server.mount("/whip", endpoint)
    base = await server.start()
    track = FrameTrack()
    track.put(two_colour())
    first = WhipClient(f"{base}/whip", codec="vp8")
    await first.start(track)

    impatient = WhipClient(f"{base}/whip", codec="vp8", retry_deadline=0.5)
    with pytest.raises(ServerUnavailable) as raised:
        await impatient.start(track)
    assert raised.value.status == 503 and raised.value.retry_after == 1.0
    assert "at most 1 sessions" in str(raised.value)

    patient = WhipClient(f"{base}/whip", codec="vp8", retry_deadline=30)
    waiting = asyncio.create_task(patient.start(track))
    await asyncio.sleep(1.5)
    assert not waiting.done()  # still told to retry
    await first.stop()
    await waiting  # the slot freed up: the retry got in
    assert patient.state == SessionState.CONNECTED
    await patient.stop()


async def test_announced_ice_servers_are_kept_for_the_next_session(
    server: WebRTCServer, stun_server: tuple[object, str]
) -> None:
    responder, url = stun_server
    server.mount("/whip", WhipEndpoint(Collector(), ice_servers=[RTCIceServer(urls=url)]))
    base = await server.start()
    track = FrameTrack()
    track.put(two_colour())
    async with WhipClient(f"{base}/whip", codec="vp8") as first:
        await first.start(track)
    assert first.announced_ice_servers == [RTCIceServer(urls=url)]
    before = responder.requests  # type: ignore[attr-defined]
    async with WhipClient(
        f"{base}/whip", codec="vp8", ice_servers=first.announced_ice_servers
    ) as second:
        await second.start(track)
        assert responder.requests > before  # type: ignore[attr-defined]  # it gathered via STUN
