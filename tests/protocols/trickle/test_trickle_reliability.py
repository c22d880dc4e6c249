"""Failure paths: dead publishers, a crashing server, slow subscribers, resource leaks."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import Awaitable, Callable, Iterator

import pytest
from aiohttp import web
from trickle_testing import channel_of, eventually, free_port, readers

from rtcflow.protocols.trickle import (
    RetryPolicy,
    TricklePublisher,
    TrickleServer,
    TrickleSubscriber,
)

pytestmark = pytest.mark.timeout(60)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def payload(seq: int, chunk: int) -> bytes:
    return f"[{seq}:{chunk}]".encode() * 200


SEGMENT_CHUNKS = 5


def full_segment(seq: int) -> bytes:
    return b"".join(payload(seq, chunk) for chunk in range(SEGMENT_CHUNKS))


async def test_publisher_killed_mid_segment(server):
    url = f"{server.url}/ch"
    _, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(b"POST /ch/0 HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n")
    writer.write(b"7\r\npartial\r\n")
    channel = await channel_of(server, "ch")
    await eventually(lambda: channel.next_write == 1, "segment 0 started")
    async with TrickleSubscriber(url) as subscriber:
        segments = subscriber.segments()
        first = await anext(segments)
        writer.transport.abort()  # the publisher dies: no final chunk, connection reset
        assert (first.seq, await first.read()) == (0, b"partial")  # ends, does not hang
        reading = asyncio.create_task(anext(segments))
        async with TricklePublisher(url) as restarted:
            assert restarted.seq == 1
            async with restarted.segment() as segment:
                await segment.write(b"after restart")
            second = await reading
            assert (second.seq, await second.read()) == (1, b"after restart")
        await segments.aclose()


async def test_failed_post_is_reposted_with_reset_and_replayed():
    server = TrickleServer("127.0.0.1", 0)
    seen: list[tuple[str, bool]] = []

    @web.middleware
    async def flaky(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.method == "POST":
            seen.append((request.path, "Lp-Trickle-Reset" in request.headers))
            if len(seen) == 1:
                await request.read()
                return web.Response(status=503, text="overloaded")
        return await handler(request)

    server.app.middlewares.append(flaky)
    await server.start()
    try:
        retry = RetryPolicy(initial_delay=0.01)
        async with TricklePublisher(f"{server.url}/ch", retry=retry) as publisher:
            async with publisher.segment() as segment:
                for chunk in range(SEGMENT_CHUNKS):
                    await segment.write(payload(0, chunk))
            assert publisher.stats.retries == 1
            assert b"".join(server.channels["ch"].find(0).chunks) == full_segment(0)
        assert seen[0] == ("/ch/0", False)
        assert ("/ch/0", True) in seen[1:]  # re-posted with Lp-Trickle-Reset
    finally:
        await server.stop()


class ServerProcess:
    """A trickle server in its own process, so that it can really be killed."""

    def __init__(self) -> None:
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    async def start(self) -> None:
        code = (
            "import asyncio; from rtcflow.protocols.trickle import run_trickle_server; "
            f"asyncio.run(run_trickle_server('127.0.0.1', {self.port}))"
        )
        self.process = subprocess.Popen([sys.executable, "-c", code])
        for _ in range(200):
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", self.port)
            except OSError:
                await asyncio.sleep(0.05)
            else:
                writer.close()
                return
        raise AssertionError("trickle server process did not start")

    def kill(self) -> None:
        if self.process is not None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()


@pytest.fixture
def server_process() -> Iterator[ServerProcess]:
    server = ServerProcess()
    yield server
    server.kill()


async def test_server_killed_and_restarted_while_streaming(server_process):
    await server_process.start()
    url = f"http://127.0.0.1:{server_process.port}/live"
    # Retries (every 0.2 s at most) come back well within the server's window of 5
    # segments (1.25 s here), so nothing may be lost: cut segments are resumed.
    retry = RetryPolicy(initial_delay=0.05, max_delay=0.2, max_attempts=100)
    received: list[tuple[int, bytes]] = []
    published: list[int] = []
    stop = asyncio.Event()

    async def publish(publisher: TricklePublisher) -> None:
        while not stop.is_set():
            async with publisher.segment() as segment:
                for chunk in range(SEGMENT_CHUNKS):
                    await segment.write(payload(segment.seq, chunk))
                    await asyncio.sleep(0.05)
            published.append(segment.seq)

    async def subscribe(subscriber: TrickleSubscriber) -> None:
        async for segment in subscriber:
            received.append((segment.seq, await segment.read()))

    async with TricklePublisher(url, retry=retry) as publisher:
        publishing = asyncio.create_task(publish(publisher))
        await eventually(lambda: len(published) >= 1, "first segment")
        subscriber = TrickleSubscriber(url, retry=retry)
        subscribing = asyncio.create_task(subscribe(subscriber))
        await eventually(lambda: len(received) >= 2, "subscription running")

        server_process.kill()
        crashed_at = published[-1]
        await asyncio.sleep(0.3)
        await server_process.start()  # a fresh process: it knows no channels

        await eventually(lambda: received[-1][0] >= crashed_at + 4, "recovery", timeout=20)
        stop.set()
        await publishing
    await asyncio.wait_for(subscribing, 10)  # the publisher deleted the channel: clean end
    await subscriber.aclose()

    assert publisher.stats.retries >= 1
    assert subscriber.stats.retries >= 1
    seqs = [seq for seq, _ in received]
    assert seqs == list(range(seqs[0], seqs[-1] + 1))  # in order, nothing lost
    for seq, data in received:
        assert data == full_segment(seq), f"segment {seq} incomplete or corrupted"


async def test_subscriber_far_behind_jumps_to_the_live_edge(server):
    url = f"{server.url}/ch"
    async with TricklePublisher(url) as publisher:
        channel = await channel_of(server, "ch")
        async with TrickleSubscriber(url, start_seq=0) as subscriber:
            segments = subscriber.segments()
            opening = asyncio.create_task(anext(segments))
            for seq in range(10):  # ten segments go by (the ring keeps 5) ...
                async with publisher.segment() as segment:
                    await segment.write(f"s{seq}".encode())
            first = await opening  # ... while the reader stalled on segment 0
            assert await first.read() == b"s0"  # what it holds is still whole
            second = await anext(segments)  # pre-connected while 1 was in the window
            assert (second.seq, await second.read()) == (1, b"s1")
            waiting = asyncio.create_task(anext(segments))  # 2 is gone: 470 -> 10
            await eventually(lambda: subscriber.stats.jumps == 1, "a 470")
            await eventually(lambda: readers(channel, 10) == 1, "waiting at the live edge")
            async with publisher.segment() as segment:
                await segment.write(b"s10")
            live = await waiting
            assert (live.seq, await live.read()) == (10, b"s10")
            await segments.aclose()


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc to count fds")
async def test_channel_cycles_leave_no_tasks_or_sockets_behind(server):
    async def cycle(index: int) -> None:
        url = f"{server.url}/cycle-{index}"
        async with TricklePublisher(url) as publisher:
            await channel_of(server, f"cycle-{index}")
            async with TrickleSubscriber(url, start_seq=0) as subscriber:
                segments = subscriber.segments()
                async with publisher.segment() as segment:
                    await segment.write(b"x" * 1000)
                assert len(await (await anext(segments)).read()) == 1000
                await segments.aclose()

    await cycle(-1)  # warm up lazily created state (loggers, parsers)
    # What stays: this test, the server's sweeper; connections close once clients close.
    await eventually(lambda: len(asyncio.all_tasks()) == 2, "warm-up tasks to finish")
    tasks, fds = len(asyncio.all_tasks()), open_fds()
    for index in range(200):
        await cycle(index)
    await eventually(lambda: len(asyncio.all_tasks()) == tasks, "tasks to finish")
    await eventually(lambda: open_fds() == fds, "sockets to close")
    assert server.channels == {}
