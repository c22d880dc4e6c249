"""Sessions that end badly: servers that vanish, and connect/disconnect churn."""

from __future__ import annotations

import asyncio
import gc
import json
import os
import signal
import sys
import threading

import pytest
from aiortc import RTCPeerConnection
from webrtc_testing import feeding

from rtcflow.media.frame import VideoFrame
from rtcflow.protocols.webrtc import (
    FrameBroadcaster,
    FrameTrack,
    ServerSession,
    SessionClosed,
    SessionState,
    WebRTCServer,
    WhepClient,
    WhepEndpoint,
    WhipClient,
    WhipEndpoint,
)


async def drain(session: ServerSession) -> None:
    assert session.receiver is not None
    async for _ in session.receiver:
        pass


async def test_server_shutdown_mid_stream_ends_the_session(server: WebRTCServer) -> None:
    server.mount("/whip", WhipEndpoint(drain))
    base = await server.start()
    track = FrameTrack()
    client = WhipClient(f"{base}/whip", codec="vp8")
    async with feeding(track.put):
        await client.start(track)
        await server.close()  # closes its peers (DTLS close_notify), then stops listening
        reason = await asyncio.wait_for(client.wait_closed(), 30)
    assert isinstance(reason, SessionClosed) and "closed" in str(reason)
    assert client.state == SessionState.FAILED
    await client.stop()  # the DELETE fails (nobody listens): logged, not raised
    assert client.error is reason


async def test_killed_server_is_noticed_by_the_liveness_watchdog() -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "rtcflow.protocols.webrtc",
        "--port",
        "0",
        stdout=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert process.stdout is not None
        url = json.loads(await asyncio.wait_for(process.stdout.readline(), 60))["url"]
        track = FrameTrack()
        client = WhipClient(url, codec="vp8", liveness_timeout=2.0)
        async with feeding(track.put):
            await client.start(track)
            await asyncio.sleep(0.5)
            assert client.state == SessionState.CONNECTED
            process.send_signal(signal.SIGKILL)  # no DTLS close, no HTTP: just gone
            reason = await asyncio.wait_for(client.wait_closed(), 30)
        assert isinstance(reason, SessionClosed)
        assert "nothing came from the peer for 2 s" in str(reason)
        await client.stop()
    finally:
        if process.returncode is None:
            process.kill()
        await process.wait()


def peer_connections() -> int:
    gc.collect()
    return sum(type(o) is RTCPeerConnection for o in gc.get_objects())


def threads() -> tuple[int, int]:
    """(threads outside the loop's default executor, executor workers)."""
    names = [t.name for t in threading.enumerate()]
    pool = sum(name.startswith("asyncio_") for name in names)
    return len(names) - pool, pool


@pytest.mark.slow
async def test_rapid_connect_disconnect_cycles_leave_nothing_behind(server: WebRTCServer) -> None:
    whip = WhipEndpoint(drain)
    broadcaster = FrameBroadcaster(fps=60)
    whep = WhepEndpoint(broadcaster)
    server.mount("/whip", whip)
    server.mount("/whep", whep)
    base = await server.start()
    track = FrameTrack(fps=60)

    def put(frame: VideoFrame) -> None:
        track.put(frame)
        broadcaster.publish(frame)

    async def cycle(index: int) -> None:
        if index % 2:
            async with WhepClient(f"{base}/whep", codec="vp8") as player:
                await player.start()
            assert player.state == SessionState.CLOSED
        else:
            async with WhipClient(f"{base}/whip", codec="vp8") as publisher:
                await publisher.start(track)
            assert publisher.state == SessionState.CLOSED

    async with feeding(put, fps=60):
        await cycle(0)  # warm up: executor threads, codec contexts
        await cycle(1)
        await asyncio.sleep(0.5)
        tasks, (own_threads, _), peers = len(asyncio.all_tasks()), threads(), peer_connections()
        for index in range(100):
            await cycle(index)
        await asyncio.sleep(1.0)  # server-side closes triggered by the DELETEs finish
        assert whip.sessions == {} and whep.sessions == {}
        assert broadcaster.players == 0
        assert len(asyncio.all_tasks()) <= tasks
        assert peer_connections() <= peers
        own_after, pool_after = threads()
        assert own_after <= own_threads  # aiortc's decoder threads all ended
        assert pool_after <= min(32, (os.cpu_count() or 1) + 4)  # the bounded default pool
