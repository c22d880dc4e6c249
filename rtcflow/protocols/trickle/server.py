"""A trickle server on aiohttp.web, wire-compatible with go-livepeer ``trickle_server.go``.

Routes (under ``base_path``)::

    POST   /<ch>         create a channel (``Expect-Content: <mime>``); 404 unless allowed
    POST   /<ch>/<seq>   publish a segment; the chunked body streams to subscribers
    GET    /<ch>/<seq>   subscribe to a segment (-1 next, -2 current); 470 if out of window
    GET    /<ch>/next    the next write position, as text and ``Lp-Trickle-Latest``
    DELETE /<ch>/<seq>   end one segment
    DELETE /<ch>         close the channel; later requests get 404

Differences from go-livepeer, all towards bounded resources: a segment is cut at
``max_segment_bytes`` (the POST is answered 413 once its body ends; the excess is read and
dropped), a publisher that disconnects mid-segment ends the segment at once (subscribers
move on), and a publisher whose segment is ended by someone else (reset, channel close,
server stop) is answered immediately with ``Connection: close``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import StreamReader, web
from aiohttp.http import HttpVersion11
from aiohttp.http_exceptions import HttpProcessingError

from rtcflow.protocols.trickle.channel import Channel, Segment
from rtcflow.protocols.trickle.wire import (
    CLOSED_HEADER,
    CLOSED_VALUE,
    DEFAULT_MIME_TYPE,
    EXPECT_CONTENT_HEADER,
    LATEST_HEADER,
    RESET_HEADER,
    SEQ_CURRENT,
    SEQ_HEADER,
    SEQ_NEXT,
    STATUS_SEGMENT_MISSING,
)

log = logging.getLogger(__name__)

# An interim response, as Go's ``w.WriteHeader(http.StatusContinue)`` sends it. aiohttp has
# no API for 1xx responses other than its Expect handler, which writes these exact bytes
# to ``request.writer`` before the response is prepared; we do the same, repeatedly.
_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"


class TrickleServer:
    """An embeddable trickle server.

    Run it standalone with ``await server.start()`` / ``await server.stop()`` (port 0 picks
    a free port; ``server.url`` is the base URL), or mount ``server.app`` in another
    aiohttp application with ``add_subapp`` (its lifecycle then follows the parent's).
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 3389,
        base_path: str = "/",
        *,
        allow_create: bool = True,
        idle_timeout: float = 300.0,
        sweep_interval: float = 60.0,
        max_segment_bytes: int = 32 * 1024 * 1024,
        keepalive_interval: float = 10.0,
    ) -> None:
        """``allow_create``: channels are created by HTTP (``POST /<ch>`` or the first
        publish); if False only ``create_channel()`` creates them. ``idle_timeout``: close a
        channel with no new segment for this long, checked every ``sweep_interval``.
        ``keepalive_interval``: send ``100 Continue`` to a pre-connected POST this often.
        """
        if max_segment_bytes <= 0 or idle_timeout <= 0 or sweep_interval <= 0:
            raise ValueError("max_segment_bytes, idle_timeout and sweep_interval must be > 0")
        self.host = host
        self.port = port
        self.base_path = "/" + base_path.strip("/") + ("/" if base_path.strip("/") else "")
        self.allow_create = allow_create
        self.idle_timeout = idle_timeout
        self.sweep_interval = sweep_interval
        self.max_segment_bytes = max_segment_bytes
        self.keepalive_interval = keepalive_interval
        self.channels: dict[str, Channel] = {}
        self.app = web.Application()
        self._add_routes(self.app.router)
        self.app.cleanup_ctx.append(self._sweeper)
        self.app.on_shutdown.append(self._on_shutdown)
        self._runner: web.AppRunner | None = None

    # -- lifecycle ---------------------------------------------------------------------

    async def start(self) -> None:
        """Listen on ``host:port`` (port 0: a free port)."""
        if self._runner is not None:
            raise RuntimeError("TrickleServer already started")
        # lingering_time=0: a request answered before its body ended (a pre-connected POST
        # woken by a close, a 404) gets its connection closed, as go-livepeer does, instead
        # of aiohttp reading and discarding the rest of the body for up to 10 s.
        runner = web.AppRunner(self.app, access_log=None, shutdown_timeout=2.0, lingering_time=0.0)
        await runner.setup()
        try:
            site = web.TCPSite(runner, self.host, self.port)
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        self.port = runner.addresses[0][1]
        log.info("trickle server listening on %s", self.url)

    async def stop(self) -> None:
        """Close every channel (waking all waiting requests) and stop listening."""
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()

    @property
    def url(self) -> str:
        """Base URL; a channel's URL is ``f"{server.url}/{name}"``."""
        return f"http://{self.host}:{self.port}{self.base_path.rstrip('/')}"

    async def _on_shutdown(self, app: web.Application) -> None:
        for name in list(self.channels):
            self.close_channel(name)

    async def _sweeper(self, app: web.Application) -> AsyncIterator[None]:
        task = asyncio.create_task(self._sweep_idle_channels())
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await self._on_shutdown(app)

    async def _sweep_idle_channels(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(self.sweep_interval)
            now = loop.time()
            for channel in list(self.channels.values()):
                # Names starting with "_" are internal (go-livepeer's changefeed); kept.
                if (
                    not channel.name.startswith("_")
                    and now - channel.write_time > self.idle_timeout
                ):
                    log.info("closing idle trickle channel %s", channel.name)
                    self.close_channel(channel.name)

    # -- channels ----------------------------------------------------------------------

    def create_channel(self, name: str, mime_type: str = DEFAULT_MIME_TYPE) -> Channel:
        """Create a channel (or return the existing one)."""
        channel = self.channels.get(name)
        if channel is None:
            channel = Channel(name, mime_type, asyncio.get_running_loop().time())
            self.channels[name] = channel
            log.info("created trickle channel %s (%s)", name, mime_type or "no type")
        return channel

    def close_channel(self, name: str) -> bool:
        """Close and forget a channel; False if there was none."""
        channel = self.channels.pop(name, None)
        if channel is None:
            return False
        channel.close()
        log.info("closed trickle channel %s", name)
        return True

    def _channel_for_publish(self, name: str, mime_type: str) -> Channel | None:
        if name in self.channels or self.allow_create:
            return self.create_channel(name, mime_type)
        return None

    # -- HTTP --------------------------------------------------------------------------

    def _add_routes(self, router: web.UrlDispatcher) -> None:
        base = self.base_path
        router.add_post(base + "{channel}", self._handle_create)
        router.add_delete(base + "{channel}", self._handle_delete_channel)
        # "next" before "{seq}": aiohttp matches routes in registration order.
        router.add_get(base + "{channel}/next", self._handle_next)
        router.add_get(base + "{channel}/{seq}", self._handle_get)
        router.add_post(base + "{channel}/{seq}", self._handle_post)
        router.add_delete(base + "{channel}/{seq}", self._handle_delete_segment)

    async def _handle_create(self, request: web.Request) -> web.Response:
        name = request.match_info["channel"]
        if self._channel_for_publish(name, request.headers.get(EXPECT_CONTENT_HEADER, "")):
            return web.Response()
        return web.Response(status=404, text="Stream not found")

    async def _handle_delete_channel(self, request: web.Request) -> web.Response:
        if self.close_channel(request.match_info["channel"]):
            return web.Response()
        return web.Response(status=400, text="Invalid stream")

    async def _handle_next(self, request: web.Request) -> web.Response:
        channel = self.channels.get(request.match_info["channel"])
        if channel is None:
            return web.Response(status=404, text="Stream not found")
        headers = {LATEST_HEADER: str(channel.next_write)}
        if channel.closed:
            headers[CLOSED_HEADER] = CLOSED_VALUE
        return web.Response(text=str(channel.next_write), headers=headers)

    async def _handle_delete_segment(self, request: web.Request) -> web.Response:
        channel = self.channels.get(request.match_info["channel"])
        if channel is None:
            return web.Response(status=404, text="Stream not found")
        seq = _parse_seq(request.match_info["seq"])
        if seq is None:
            return web.Response(status=400, text="Invalid idx")
        segment = channel.find(seq)
        if segment is None:
            return web.Response(status=400, text="Nonexistent segment")
        segment.close()
        return web.Response()

    async def _handle_get(self, request: web.Request) -> web.StreamResponse:
        channel = self.channels.get(request.match_info["channel"])
        if channel is None:
            return web.Response(status=404, text="Stream not found")
        requested = _parse_seq(request.match_info["seq"])
        if requested is None or requested < SEQ_CURRENT:
            return web.Response(status=400, text="Invalid idx")
        seq, segment = channel.segment_for_read(requested)
        latest = channel.next_write
        if segment is None:
            headers = {LATEST_HEADER: str(latest), SEQ_HEADER: str(seq)}
            if channel.closed:
                headers[CLOSED_HEADER] = CLOSED_VALUE
                return web.Response(text="Entry not found", headers=headers)
            return web.Response(
                status=STATUS_SEGMENT_MISSING, text="Entry not found", headers=headers
            )
        response = web.StreamResponse()
        try:
            async with contextlib.aclosing(segment.iter_chunks()) as chunks:
                async for chunk in chunks:
                    if not response.prepared:
                        # Headers go out with the first byte, as in go-livepeer.
                        if seq != latest:
                            response.headers[LATEST_HEADER] = str(latest)
                        response.headers[SEQ_HEADER] = str(seq)
                        response.content_type = channel.mime_type or "application/octet-stream"
                        await response.prepare(request)
                    await response.write(chunk)
            if not response.prepared:
                # Ended without data: skipped, reset or closed. Tell the reader where to go.
                response.headers[SEQ_HEADER] = str(seq)
                response.headers[LATEST_HEADER] = str(channel.next_write)
                if channel.closed:
                    response.headers[CLOSED_HEADER] = CLOSED_VALUE
                await response.prepare(request)
            await response.write_eof()
        except ConnectionError as exc:
            log.debug("subscriber of %s/%d went away: %s", channel.name, seq, exc)
        return response

    async def _handle_post(self, request: web.Request) -> web.Response:
        name = request.match_info["channel"]
        channel = self._channel_for_publish(name, request.headers.get("Content-Type", ""))
        if channel is None:
            response = web.Response(status=404, text="Stream not found")
            response.force_close()  # wakes up pre-connected publishers
            return response
        seq = _parse_seq(request.match_info["seq"])
        if seq is None or seq < SEQ_NEXT:
            return web.Response(status=400, text="Invalid idx")
        segment = channel.segment_for_write(seq)
        if RESET_HEADER in request.headers:
            # The publisher restarted: unblock readers of older segments.
            channel.close_before(segment.seq)
        return await self._receive_segment(request, channel, segment)

    async def _receive_segment(
        self, request: web.Request, channel: Channel, segment: Segment
    ) -> web.Response:
        loop = asyncio.get_running_loop()
        received = 0
        dropped = 0
        read: asyncio.Future[bytes] = asyncio.ensure_future(request.content.readany())
        ended = asyncio.ensure_future(segment.ended.wait())
        try:
            while True:
                timeout = self.keepalive_interval if received == 0 else None
                done, _ = await asyncio.wait(
                    {read, ended}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
                )
                if not done:
                    # Idle pre-connected POST: keep it (and any proxy) alive.
                    if request.version == HttpVersion11:
                        await request.writer.write(_CONTINUE)
                        request.writer.output_size = 0
                    continue
                if read not in done:
                    break  # ended by a reset, a channel close or the server stopping
                data = read.result()
                if not data:
                    break
                if received == 0:
                    channel.mark_started(segment.seq, loop.time())
                room = self.max_segment_bytes - received
                if len(data) > room:
                    segment.append(data[:room])
                    segment.close()
                    received += room
                    log.warning(
                        "trickle segment %s/%d exceeds %d bytes: cut there, dropping the rest",
                        channel.name,
                        segment.seq,
                        self.max_segment_bytes,
                    )
                    dropped = len(data) - room + await _drain(request.content)
                    break
                segment.append(data)
                received += len(data)
                read = asyncio.ensure_future(request.content.readany())
        except (ConnectionError, HttpProcessingError) as exc:
            segment.close()
            log.warning(
                "publisher of %s/%d went away after %d bytes: %s",
                channel.name,
                segment.seq,
                received,
                exc,
            )
            return web.Response(status=500, text="Server error")
        finally:
            read.cancel()
            ended.cancel()

        headers = {SEQ_HEADER: str(segment.seq)}
        if dropped:
            text = f"Segment exceeds {self.max_segment_bytes} bytes; cut there"
            return web.Response(status=413, text=text, headers=headers)
        interrupted = segment.closed
        segment.close()
        if received == 0 or interrupted:
            # Nothing (more) will be read: a pre-connect woken by a close, or an empty body.
            if received == 0:
                channel.mark_started(segment.seq, loop.time())
            if channel.closed:
                headers[CLOSED_HEADER] = CLOSED_VALUE
            response = web.Response(headers=headers)
            response.force_close()
            return response
        log.debug("trickle segment %s/%d: %d bytes", channel.name, segment.seq, received)
        return web.Response(headers=headers)


async def _drain(content: StreamReader) -> int:
    """Read a request body to its end, keeping nothing; returns the byte count."""
    total = 0
    while data := await content.readany():
        total += len(data)
    return total


def _parse_seq(text: str) -> int | None:
    try:
        return int(text)
    except ValueError:
        return None


async def run_trickle_server(
    host: str = "127.0.0.1", port: int = 3389, base_path: str = "/", **options: Any
) -> None:
    """Serve trickle until cancelled (``rtcflow trickle-server``); options as TrickleServer."""
    server = TrickleServer(host, port, base_path, **options)
    await server.start()
    try:
        await asyncio.Event().wait()
    finally:
        await server.stop()
