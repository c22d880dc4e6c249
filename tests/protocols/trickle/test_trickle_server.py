"""The trickle server's wire behaviour, checked with plain HTTP requests (httpx, sockets)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
from aiohttp import web
from trickle_testing import eventually, readers

from rtcflow.protocols.trickle import TrickleServer


class Body:
    """A chunked request body fed from the test, so segments stay open as long as needed."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[bytes | None] = asyncio.Queue()

    async def __aiter__(self) -> AsyncIterator[bytes]:
        while (chunk := await self.queue.get()) is not None:
            yield chunk

    def send(self, data: bytes) -> None:
        self.queue.put_nowait(data)

    def end(self) -> None:
        self.queue.put_nowait(None)


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=httpx.Timeout(5.0)) as client:
        yield client


async def publish(http: httpx.AsyncClient, url: str, data: bytes, **headers: str) -> httpx.Response:
    return await http.post(url, content=data, headers={"Content-Type": "video/MP2T", **headers})


async def test_channel_created_by_http_and_next_reports_write_position(server, http):
    url = f"{server.url}/show"
    created = await http.post(url, headers={"Expect-Content": "video/MP2T"})
    assert created.status_code == 200
    nxt = await http.get(f"{url}/next")
    assert (nxt.status_code, nxt.text, nxt.headers["Lp-Trickle-Latest"]) == (200, "0", "0")

    posted = await publish(http, f"{url}/0", b"segment zero")
    assert posted.status_code == 200
    assert posted.headers["Lp-Trickle-Seq"] == "0"
    assert (await http.get(f"{url}/next")).text == "1"

    got = await http.get(f"{url}/0")
    assert got.status_code == 200
    assert got.content == b"segment zero"
    assert got.headers["Lp-Trickle-Seq"] == "0"
    assert got.headers["Content-Type"] == "video/MP2T"
    assert got.headers["Lp-Trickle-Latest"] == "1"  # differs from the served seq


async def test_explicit_creation_only():
    server = TrickleServer("127.0.0.1", 0, allow_create=False)
    await server.start()
    try:
        async with httpx.AsyncClient() as http:
            url = f"{server.url}/locked"
            assert (await http.post(url, headers={"Expect-Content": "x"})).status_code == 404
            assert (await publish(http, f"{url}/0", b"x")).status_code == 404
            server.create_channel("locked", "application/json")
            assert (await publish(http, f"{url}/0", b"{}")).status_code == 200
            got = await http.get(f"{url}/0")
            assert (got.content, got.headers["Content-Type"]) == (b"{}", "application/json")
    finally:
        await server.stop()


async def test_unknown_channel_and_bad_requests(server, http):
    url = f"{server.url}/nothing"
    assert (await http.get(f"{url}/0")).status_code == 404
    assert (await http.get(f"{url}/next")).status_code == 404
    assert (await http.delete(url)).status_code == 400  # go-livepeer: "Invalid stream"
    assert (await http.delete(f"{url}/0")).status_code == 404
    await publish(http, f"{server.url}/ch/0", b"a")
    assert (await http.get(f"{server.url}/ch/zero")).status_code == 400
    assert (await http.get(f"{server.url}/ch/-3")).status_code == 400
    assert (await publish(http, f"{server.url}/ch/-2", b"a")).status_code == 400
    assert (await http.delete(f"{server.url}/ch/3")).status_code == 400  # no such segment
    assert (await http.put(f"{server.url}/ch/1", content=b"a")).status_code == 405


async def test_post_to_minus_one_takes_the_next_seq(server, http):
    url = f"{server.url}/ch"
    for expected in range(3):
        response = await publish(http, f"{url}/-1", f"s{expected}".encode())
        assert response.headers["Lp-Trickle-Seq"] == str(expected)
    assert (await http.get(f"{url}/1")).content == b"s1"


async def test_subscriber_gets_bytes_while_the_segment_is_written(server, http):
    url = f"{server.url}/live"
    body = Body()
    post = asyncio.create_task(http.post(f"{url}/0", content=body))
    body.send(b"first ")
    await eventually(lambda: "live" in server.channels, "channel")
    async with http.stream("GET", f"{url}/-2") as response:
        assert response.headers["Lp-Trickle-Seq"] == "0"
        chunks = response.aiter_raw()
        assert await anext(chunks) == b"first "  # the POST is still open
        body.send(b"second")
        assert await anext(chunks) == b"second"
        body.end()
        assert [chunk async for chunk in chunks] == []
    assert (await post).headers["Lp-Trickle-Seq"] == "0"


async def test_get_ahead_waits_for_the_first_byte_and_minus_two_starts_at_segment_start(
    server, http
):
    url = f"{server.url}/ch"
    await publish(http, f"{url}/0", b"zero")
    waiting = asyncio.create_task(http.get(f"{url}/-1"))  # the next segment, not started
    await asyncio.sleep(0.1)
    assert not waiting.done()
    body = Body()
    post = asyncio.create_task(http.post(f"{url}/1", content=body))
    body.send(b"one-a ")
    await eventually(lambda: server.channels["ch"].next_write == 2, "segment 1 started")
    async with http.stream("GET", f"{url}/-2") as current:
        assert current.headers["Lp-Trickle-Seq"] == "1"
        body.send(b"one-b")
        body.end()
        assert await current.aread() == b"one-a one-b"  # from the segment start
    assert (await waiting).content == b"one-a one-b"
    await post


async def test_470_outside_the_window_with_latest(server, http):
    url = f"{server.url}/ch"
    for seq in range(8):
        await publish(http, f"{url}/{seq}", f"s{seq}".encode())
    behind = await http.get(f"{url}/1")  # the ring keeps 5: 3..7
    assert behind.status_code == 470
    assert behind.headers["Lp-Trickle-Latest"] == "8"
    assert (await http.get(f"{url}/3")).content == b"s3"
    ahead = await http.get(f"{url}/12")
    assert (ahead.status_code, ahead.headers["Lp-Trickle-Latest"]) == (470, "8")


async def test_delete_channel_ends_waiting_subscribers_then_404(server, http):
    url = f"{server.url}/ch"
    await publish(http, f"{url}/0", b"zero")
    waiting = asyncio.create_task(http.get(f"{url}/1"))
    await eventually(lambda: server.channels["ch"].find(1) is not None, "pre-created segment")
    assert (await http.delete(url)).status_code == 200
    ended = await waiting
    assert ended.status_code == 200
    assert ended.headers["Lp-Trickle-Closed"] == "terminated"
    assert ended.content == b""
    assert (await http.get(f"{url}/1")).status_code == 404


async def test_delete_segment_ends_it(server, http):
    url = f"{server.url}/ch"
    body = Body()
    post = asyncio.create_task(http.post(f"{url}/0", content=body))
    body.send(b"partial")
    await eventually(lambda: server.channels.get("ch") and server.channels["ch"].find(0), "seg 0")
    async with http.stream("GET", f"{url}/0") as response:
        chunks = response.aiter_raw()
        assert await anext(chunks) == b"partial"
        assert (await http.delete(f"{url}/0")).status_code == 200
        assert [chunk async for chunk in chunks] == []
    post.cancel()


async def test_reset_closes_older_segments_but_not_preconnected_ones(server, http):
    url = f"{server.url}/ch"
    old_body, ahead_body = Body(), Body()
    old_post = asyncio.create_task(http.post(f"{url}/0", content=old_body))
    old_body.send(b"stale")  # the publisher died without ending segment 0
    await eventually(lambda: server.channels.get("ch") and server.channels["ch"].find(0), "seg 0")
    ahead_post = asyncio.create_task(http.post(f"{url}/4", content=ahead_body))  # pre-connected
    await eventually(lambda: server.channels["ch"].find(4) is not None, "seg 4")
    async with http.stream("GET", f"{url}/0") as stale:
        response = await publish(http, f"{url}/3", b"restarted", **{"Lp-Trickle-Reset": "1"})
        assert response.status_code == 200
        assert await stale.aread() == b"stale"  # ended by the reset
    assert not server.channels["ch"].find(4).closed
    ahead_body.send(b"four")
    ahead_body.end()
    assert (await ahead_post).status_code == 200
    old_post.cancel()


async def test_idle_preconnected_post_gets_100_continue_keepalives():
    server = TrickleServer("127.0.0.1", 0, keepalive_interval=0.1)
    await server.start()
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    try:
        writer.write(
            b"POST /ch/0 HTTP/1.1\r\nHost: test\r\nContent-Type: video/MP2T\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n"
        )
        for _ in range(2):
            line = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
            assert line == b"HTTP/1.1 100 Continue\r\n\r\n"
        writer.write(b"5\r\nhello\r\n0\r\n\r\n")
        final = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        assert final.startswith(b"HTTP/1.1 200 OK\r\n")
        assert b"Lp-Trickle-Seq: 0\r\n" in final
        async with httpx.AsyncClient() as http:
            assert (await http.get(f"{server.url}/ch/0")).content == b"hello"
    finally:
        writer.close()
        await server.stop()


async def test_oversized_segment_is_cut_and_memory_stays_bounded():
    limit = 64 * 1024
    server = TrickleServer("127.0.0.1", 0, max_segment_bytes=limit)
    await server.start()
    try:
        async with httpx.AsyncClient() as http:
            url = f"{server.url}/big"
            body = Body()
            post = asyncio.create_task(http.post(f"{url}/0", content=body))
            body.send(b"x" * 1000)
            await eventually(lambda: "big" in server.channels, "channel")
            async with http.stream("GET", f"{url}/0") as response:
                for _ in range(100):  # 1.6 MB in 16 KiB chunks
                    body.send(b"y" * 16384)
                await eventually(lambda: server.channels["big"].find(0).closed, "cut")
                received = await response.aread()
                body.end()
            assert len(received) == limit
            assert received.startswith(b"x" * 1000)
            response = await post
            assert response.status_code == 413
            assert server.channels["big"].buffered_bytes == limit
            assert (await publish(http, f"{url}/1", b"fine")).status_code == 200
    finally:
        await server.stop()


async def test_idle_channels_are_swept():
    server = TrickleServer("127.0.0.1", 0, idle_timeout=0.2, sweep_interval=0.05)
    await server.start()
    try:
        async with httpx.AsyncClient() as http:
            url = f"{server.url}/idle"
            await publish(http, f"{url}/0", b"zero")
            waiting = asyncio.create_task(http.get(f"{url}/1"))
            await eventually(lambda: "idle" not in server.channels, "sweep", timeout=3)
            assert (await waiting).headers["Lp-Trickle-Closed"] == "terminated"
            assert (await http.get(f"{url}/next")).status_code == 404
    finally:
        await server.stop()


async def test_base_path_and_embedding_in_another_app():
    async def health(request: web.Request) -> web.Response:
        return web.Response(text="ok")

    trickle = TrickleServer(base_path="/trickle/")
    parent = web.Application()
    parent.router.add_get("/health", health)
    parent.add_subapp("/gw/", trickle.app)
    runner = web.AppRunner(parent)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    base = f"http://127.0.0.1:{runner.addresses[0][1]}"
    async with httpx.AsyncClient() as http:
        try:
            assert (await http.get(f"{base}/health")).text == "ok"
            assert (await publish(http, f"{base}/gw/trickle/ch/0", b"in")).status_code == 200
            assert (await http.get(f"{base}/gw/trickle/ch/0")).content == b"in"
            assert (await http.get(f"{base}/ch/0")).status_code == 404
            waiting = asyncio.create_task(http.get(f"{base}/gw/trickle/ch/1"))
            await eventually(lambda: trickle.channels["ch"].find(1) is not None, "pre-create")
        finally:
            await runner.cleanup()  # the sub-app's shutdown closes its channels
        assert (await waiting).headers["Lp-Trickle-Closed"] == "terminated"
    assert trickle.channels == {}


async def test_stop_answers_pending_requests(server, http):
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(b"POST /ch/0 HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n")
    await eventually(lambda: "ch" in server.channels, "channel")  # an idle pre-connect
    waiting = asyncio.create_task(http.get(f"{server.url}/ch/0"))
    await eventually(lambda: readers(server.channels["ch"], 0) == 1, "a waiting reader")
    await server.stop()
    assert (await waiting).headers["Lp-Trickle-Closed"] == "terminated"
    answer = await asyncio.wait_for(reader.read(), 5)  # read to EOF: the server closed it
    assert answer.startswith(b"HTTP/1.1 200 OK\r\n")
    assert b"Lp-Trickle-Closed: terminated\r\n" in answer
    assert b"Connection: close\r\n" in answer
    writer.close()
