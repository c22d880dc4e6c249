"""Trickle publisher: one streamed (chunked) POST per segment, over httpx.

Behaviour follows go-livepeer ``trickle_publisher.go``: while segment ``n`` is written the
POST for ``n+1`` is already connected, so a new segment starts without a round trip; the
channel is deleted on close. Beyond go-livepeer:

- On start the publisher asks ``GET /<ch>/next``; on a channel that already has segments
  it continues there and sends ``Lp-Trickle-Reset`` so the server ends stale segments.
- A segment whose POST fails (connection refused or reset, 5xx, a server that answered
  before taking the whole body, or a channel closed under it) is re-posted with backoff
  under ``RetryPolicy``, with ``Lp-Trickle-Reset``, replaying the bytes already written
  (kept up to ``replay_limit``). A restarted server therefore gets the whole segment, and
  with channel creation over HTTP the channel comes back with it.
- 404 (the server does not create channels over HTTP) raises ``ChannelNotFoundError``,
  other 4xx (such as 413, segment too large) raise ``TrickleStatusError``; the publisher
  stays usable for the next segment.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx

from rtcflow.protocols.retry import RetryPolicy
from rtcflow.protocols.trickle.client import new_client
from rtcflow.protocols.trickle.errors import (
    ChannelNotFoundError,
    TrickleConnectionError,
    TrickleError,
    TrickleStatusError,
)
from rtcflow.protocols.trickle.wire import (
    CLOSED_HEADER,
    DEFAULT_MIME_TYPE,
    RESET_HEADER,
    parse_seq_header,
)

log = logging.getLogger(__name__)


@dataclass
class PublisherStats:
    """Counters of one publisher."""

    segments: int = 0
    bytes: int = 0
    retries: int = 0  # failed POSTs re-posted


class _Upload:
    """The POST of one segment: its body is fed by ``write`` and replayed on retry."""

    def __init__(self, publisher: TricklePublisher, seq: int, reset: bool) -> None:
        self.seq = seq
        self._publisher = publisher
        self._reset = reset
        self._queue: asyncio.Queue[bytes | None] = asyncio.Queue(maxsize=publisher.queue_chunks)
        self._sent: list[bytes] = []  # what the body yielded so far, for replay
        self.bytes_sent = 0
        self._replayable = True
        self._ended = False  # the body yielded its last chunk
        self.task = asyncio.create_task(self._run(), name=f"trickle POST {publisher.url}/{seq}")

    async def write(self, data: bytes) -> None:
        if self.task.done():
            self.task.result()  # raises the failure
            raise TrickleError(f"segment {self.seq} already ended", url=self._publisher.url)
        await self._put(data)

    async def finish(self) -> None:
        """End the body and wait until the server confirmed the segment."""
        if not self.task.done():
            await self._put(None)
        await self.task

    async def _put(self, item: bytes | None) -> None:
        """Queue ``item``; when the queue is full, wait for room or for the POST to fail."""
        if not self._queue.full():
            self._queue.put_nowait(item)
            return
        put = asyncio.ensure_future(self._queue.put(item))
        await asyncio.wait({put, self.task}, return_when=asyncio.FIRST_COMPLETED)
        if not put.done():
            put.cancel()
            self.task.result()  # the POST gave up: raise why

    async def cancel(self) -> None:
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError, TrickleError):
            await self.task

    async def _body(self) -> AsyncIterator[bytes]:
        for chunk in list(self._sent):  # replay after a failed attempt
            yield chunk
        while not self._ended:
            chunk = await self._queue.get()
            if chunk is None:
                self._ended = True
                return
            self.bytes_sent += len(chunk)
            if self._replayable:
                self._sent.append(chunk)
                if self.bytes_sent > self._publisher.replay_limit:
                    self._sent.clear()
                    self._replayable = False
            yield chunk

    async def _run(self) -> None:
        publisher = self._publisher
        url = f"{publisher.url}/{self.seq}"
        delays = publisher.retry.delays()
        while True:
            headers = {"Content-Type": publisher.mime_type}
            if self._reset:
                headers[RESET_HEADER] = "1"
            try:
                response = await publisher._client.post(url, content=self._body(), headers=headers)
            except httpx.TransportError as exc:
                failure: Exception = exc
            else:
                status = response.status_code
                if status == 200 and self._ended and CLOSED_HEADER not in response.headers:
                    return
                if status == 404:
                    raise ChannelNotFoundError("trickle channel not found", url=publisher.url)
                failure = TrickleStatusError("POST", url, status, response.text)
                if 400 <= status < 500:
                    raise failure
                if status == 200:  # answered before our last byte: the segment was ended
                    failure = TrickleError("server ended the segment early", url=url)
            if not self._replayable:
                raise TrickleConnectionError(
                    f"segment {self.seq} failed after more than {publisher.replay_limit} "
                    f"bytes, too late to replay: {failure!r}",
                    url=publisher.url,
                ) from failure
            delay = next(delays, None)
            if delay is None:
                raise TrickleConnectionError(
                    f"POST segment {self.seq} kept failing: {failure!r}", url=publisher.url
                ) from failure
            log.info("POST %s failed (%r); re-posting in %.2fs", url, failure, delay)
            publisher.stats.retries += 1
            self._reset = True
            await asyncio.sleep(delay)


class SegmentWriter:
    """Writes one segment's bytes; they reach subscribers as they are written."""

    def __init__(self, upload: _Upload) -> None:
        self._upload = upload
        self.seq = upload.seq

    async def write(self, data: bytes) -> None:
        """Send ``data``; waits only when the connection is backed up or reconnecting."""
        if data:
            await self._upload.write(bytes(data))


class TricklePublisher:
    """Publish to a trickle channel::

    async with TricklePublisher(url) as publisher:
        async with publisher.segment() as segment:
            await segment.write(data)
    """

    def __init__(
        self,
        url: str,
        mime_type: str = DEFAULT_MIME_TYPE,
        *,
        start_seq: int | None = None,
        retry: RetryPolicy | None = None,
        client: httpx.AsyncClient | None = None,
        replay_limit: int = 32 * 1024 * 1024,
        queue_chunks: int = 64,
    ) -> None:
        """``url`` is the channel URL. ``start_seq``: first seq to publish (default: the
        channel's next write position, 0 for a new channel). ``replay_limit``: bytes of
        the current segment kept for re-posting it after a failure. ``queue_chunks``:
        chunks buffered ahead of the connection before ``write`` waits.
        """
        self.url = url.rstrip("/")
        self.mime_type = mime_type
        self.retry = retry or RetryPolicy()
        self.replay_limit = replay_limit
        self.queue_chunks = queue_chunks
        self.stats = PublisherStats()
        self._start_seq = start_seq
        self._next_seq: int | None = None
        self._pending: _Upload | None = None
        self._owns_client = client is None
        self._client = client or new_client(httpx.Timeout(10.0, pool=None))

    async def __aenter__(self) -> TricklePublisher:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    @property
    def seq(self) -> int | None:
        """The seq the next ``segment()`` writes (known after ``start()``)."""
        return self._pending.seq if self._pending else self._next_seq

    async def start(self) -> None:
        """Find where to publish and pre-connect the first segment."""
        if self._pending is not None:
            return
        reset = False
        seq = self._start_seq
        if seq is None:
            seq = await self._next_write_position()
            reset = seq > 0
        self._pending = _Upload(self, seq, reset)

    async def _next_write_position(self) -> int:
        try:
            response = await self._client.get(f"{self.url}/next")
        except httpx.TransportError as exc:
            log.info("GET %s/next failed (%r); starting at 0", self.url, exc)
            return 0
        if response.status_code != 200:
            return 0  # a new channel; the first POST creates it
        return max(parse_seq_header(response.text) or 0, 0)

    @contextlib.asynccontextmanager
    async def segment(self) -> AsyncIterator[SegmentWriter]:
        """Write one segment; leaving the block ends it and waits for the server's answer.

        If the block raises, the segment ends with what was written so far.
        """
        await self.start()
        upload = self._pending
        assert upload is not None
        self._pending = _Upload(self, upload.seq + 1, reset=False)  # pre-connect the next
        writer = SegmentWriter(upload)
        try:
            yield writer
        except asyncio.CancelledError:
            await upload.cancel()
            raise
        finally:
            if not upload.task.cancelled():
                await upload.finish()
        self.stats.segments += 1
        self.stats.bytes += upload.bytes_sent

    async def aclose(self) -> None:
        """Delete the channel (subscribers see its end) and drop the pre-connected POST."""
        try:
            response = await self._client.delete(self.url)
            if response.status_code not in (200, 400, 404):  # 400/404: already gone
                log.warning("DELETE %s answered %d", self.url, response.status_code)
        except httpx.TransportError as exc:
            log.info("DELETE %s failed: %r", self.url, exc)
        finally:
            if self._pending is not None:
                self._next_seq = self._pending.seq
                await self._pending.cancel()
                self._pending = None
            if self._owns_client:
                await self._client.aclose()
