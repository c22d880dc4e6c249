"""The whip sink: publishing a flow's output, reconnecting, tokens, keyframes."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web
from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError

from rtcflow.protocols.webrtc import ServerSession, WebRTCServer, WhipEndpoint
from tests.webrtc_flows.flows_testing import (
    LEFT,
    RIGHT,
    close_to,
    inverted,
    until,
    write_two_colour_clip,
)


def publishing_flow(url: str, *, extra_sink: str = "", sink_options: str = "") -> str:
    return f"""
        apiVersion: rtcflow/v1
        kind: Flow
        metadata: {{name: out}}
        spec:
          video: {{width: 128, height: 96, fps: 30}}
          source: {{type: file, path: clip.mp4, loop: true}}
          steps: [{{name: invert}}]
          sinks:
            - {{name: gateway, type: whip, url: "{url}", codec: vp8{sink_options}}}
            {extra_sink}
    """


@pytest.fixture(autouse=True)
def clip(tmp_path: Path) -> Path:
    return write_two_colour_clip(tmp_path / "clip.mp4")


async def drain(session: ServerSession) -> None:
    assert session.receiver is not None
    async for _ in session.receiver:
        pass


async def test_publishes_to_libwebrtc_through_a_307(run_flows, node_peer) -> None:
    server = await node_peer("whip-server.mjs")
    port = (await server.wait_for(lambda e: e["event"] == "listening"))["port"]
    flows = await run_flows(publishing_flow(f"http://127.0.0.1:{port}/redirect"))
    stats = await server.wait_for(lambda e: e["event"] == "stats" and e["frames"] > 20)
    assert (stats["width"], stats["height"]) == (128, 96)
    assert close_to(stats["left"], inverted(LEFT)), stats
    assert close_to(stats["right"], inverted(RIGHT)), stats
    sink = flows.status("out")["sinks"]["gateway"]
    assert sink["state"] == "connected" and sink["sessions"] == 1
    assert sink["session_url"].startswith(f"http://127.0.0.1:{port}/whip/")  # after the 307
    await flows.reconciler.stop_all()  # the sink DELETEs its session
    deleted = await server.wait_for(lambda e: e["event"] == "deleted")
    assert deleted["frames"] > 20


async def test_reconnects_with_backoff_while_other_sinks_go_on(run_flows, tmp_path) -> None:
    server = WebRTCServer()
    server.mount("/whip", WhipEndpoint(drain))
    base = await server.start()
    flows = await run_flows(
        publishing_flow(f"{base}/whip", extra_sink="- {name: record, type: preview}")
    )
    sinks = lambda: flows.status("out")["sinks"]  # noqa: E731
    await until(lambda: sinks()["gateway"]["state"] == "connected")

    await server.close()  # gone mid-stream: sessions closed, nothing listens
    await until(lambda: sinks()["gateway"]["last_error"] is not None)
    published = sinks()["record"]["frames_published"]
    await asyncio.sleep(1.5)
    assert sinks()["gateway"]["failures"] >= 2  # retried while the server was away
    assert sinks()["record"]["frames_published"] >= published + 30  # unaffected
    assert sinks()["record"]["last_error"] is None

    returned = WebRTCServer(port=server.port)
    returned.mount("/whip", WhipEndpoint(drain))
    await returned.start()
    try:
        await until(lambda: sinks()["gateway"]["state"] == "connected", timeout=20)
        await until(lambda: sinks()["gateway"]["last_error"] is None)
        assert sinks()["gateway"]["sessions"] == 2
        endpoint = returned.endpoints["/whip"]
        session = next(iter(endpoint.sessions.values()))
        await until(lambda: session.receiver is not None and session.receiver.received > 10)
    finally:
        await returned.close()


async def test_token_from_env_and_playback_url_in_status(run_flows) -> None:
    server = WebRTCServer()
    server.mount("/whip", WhipEndpoint(drain, token="right-token"))

    @web.middleware
    async def playback_url(request: web.Request, handler) -> web.StreamResponse:
        response = await handler(request)
        if request.method == "POST" and response.status == 201:
            response.headers["Livepeer-Playback-URL"] = "https://example.test/play/abc"
        return response

    server.app.middlewares.append(playback_url)
    base = await server.start()
    try:
        body = publishing_flow(f"{base}/whip", sink_options=", token: '${WHIP_TOKEN}'")
        right = await run_flows(body, environ={"WHIP_TOKEN": "right-token"})
        await until(lambda: right.status("out")["sinks"]["gateway"]["state"] == "connected")
        assert right.status("out")["sinks"]["gateway"]["playback_url"] == (
            "https://example.test/play/abc"
        )
        await right.stop()

        wrong = await run_flows(body, environ={"WHIP_TOKEN": "wrong-token"})
        error = await until(lambda: wrong.status("out")["sinks"]["gateway"]["last_error"])
        assert "401" in error and "Bearer" in error
        status = wrong.reconciler.status()[0].model_dump_json()
        assert "wrong-token" not in status and "right-token" not in status
        assert wrong.status("out")["phase"] == "Running"  # a failing sink never stops the flow
    finally:
        await server.close()


@contextlib.asynccontextmanager
async def frame_recorder() -> AsyncIterator[tuple[str, list[tuple[bool, int]]]]:
    """A bare aiortc WHIP answerer recording each decoded frame's (keyframe?, RTP pts)."""
    frames: list[tuple[bool, int]] = []
    peers: list[RTCPeerConnection] = []
    tasks: list[asyncio.Task[None]] = []

    async def record(track) -> None:
        with contextlib.suppress(MediaStreamError):
            while True:
                frame = await track.recv()
                frames.append((frame.key_frame, frame.pts))

    async def post(request: web.Request) -> web.Response:
        pc = RTCPeerConnection()
        peers.append(pc)
        pc.on("track", lambda track: tasks.append(asyncio.ensure_future(record(track))))
        await pc.setRemoteDescription(RTCSessionDescription(await request.text(), "offer"))
        await pc.setLocalDescription(await pc.createAnswer())
        return web.Response(
            status=201,
            text=pc.localDescription.sdp,
            content_type="application/sdp",
            headers={"Location": "/whip/1"},
        )

    async def delete(request: web.Request) -> web.Response:
        return web.Response(status=200)

    app = web.Application()
    app.router.add_post("/whip", post)
    app.router.add_delete("/whip/1", delete)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}/whip", frames
    finally:
        for pc in peers:
            await pc.close()
        await asyncio.gather(*tasks, return_exceptions=True)
        await runner.cleanup()


async def test_paced_monotonic_frames_with_keyframes_at_the_interval(run_flows) -> None:
    # H.264: FFmpeg's libvpx decoder does not flag VP8 keyframes on decoded frames. The
    # request goes through aiortc's sender, the same for both codecs.
    async with frame_recorder() as (url, frames):
        body = publishing_flow(url, sink_options=", keyframe_interval: 0.5").replace(
            "codec: vp8", "codec: h264"
        )
        flows = await run_flows(body)
        await until(lambda: len(frames) >= 70)
        assert flows.status("out")["sinks"]["gateway"]["keyframes_forced"] >= 4
        await flows.reconciler.stop_all()
    steps = [b[1] - a[1] for a, b in itertools.pairwise(frames[:70])]
    # Monotonic, 1/30 s apart on the 90 kHz RTP clock (a frame lost on the way: 2/30 s).
    assert all(step > 0 and step % 3000 == 0 for step in steps), steps
    assert steps.count(3000) >= 0.9 * len(steps), steps
    positions = [index for index, (key, _) in enumerate(frames[:70]) if key]
    # Every 0.5 s at 30 fps; the receiver may also ask for one (PLI) while it starts.
    assert {0, 15, 30, 45, 60} <= set(positions), positions
    assert all(p % 15 == 0 for p in positions if p > 5), positions
