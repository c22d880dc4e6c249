"""Trickle subscriber: reads a channel segment by segment over httpx streaming GETs.

Behaviour follows go-livepeer ``trickle_subscriber.go`` and pytrickle's subscriber:
start at seq -2 (the segment being written, so a video reader gets its GOP from the
start), pre-connect ``GET seq+1`` while ``seq`` streams, follow ``470`` to
``Lp-Trickle-Latest``, stop at ``Lp-Trickle-Closed``.

End of stream and errors:

- ``Lp-Trickle-Closed`` ends iteration; so does a 404 once segments were received (the
  publisher deleted the channel, racing our pre-connect).
- A 404 on the very first request raises ``ChannelNotFoundError``.
- Transient failures (connection refused or reset, 5xx) are retried under ``RetryPolicy``;
  while recovering from one, a 404 is retried too, because a restarted server knows the
  channel again only once its publisher re-publishes. Exhausting the policy raises
  ``TrickleConnectionError``.
- A segment cut by a transport failure is re-requested and resumed after the bytes already
  delivered; if the server no longer has it, the segment ends early (logged).
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
    TrickleStatusError,
)
from rtcflow.protocols.trickle.wire import (
    CLOSED_HEADER,
    LATEST_HEADER,
    SEQ_CURRENT,
    SEQ_HEADER,
    SEQ_NEXT,
    STATUS_SEGMENT_MISSING,
    parse_seq_header,
)

log = logging.getLogger(__name__)


@dataclass
class SubscriberStats:
    """Counters of one subscription."""

    segments: int = 0
    bytes: int = 0
    jumps: int = 0  # 470 answers followed to the live edge (the reader fell behind)
    retries: int = 0  # transient failures retried


class TrickleSegment:
    """One segment being received; its bytes stream while the publisher still writes."""

    def __init__(self, subscriber: TrickleSubscriber, response: httpx.Response, seq: int):
        self.seq = seq
        self.content_type = response.headers.get("Content-Type", "")
        self._subscriber = subscriber
        self._response = response

    async def aiter_bytes(self) -> AsyncIterator[bytes]:
        """Yield the segment's bytes as they arrive, until it ends."""
        delivered = 0
        while True:
            skip = delivered
            try:
                async for chunk in self._response.aiter_raw():
                    if skip >= len(chunk):
                        skip -= len(chunk)
                        continue
                    chunk = chunk[skip:] if skip else chunk
                    skip = 0
                    delivered += len(chunk)
                    self._subscriber.stats.bytes += len(chunk)
                    yield chunk
                return
            except httpx.TransportError as exc:
                await self._response.aclose()
                log.info("segment %s/%d interrupted (%s); resuming", self._url, self.seq, exc)
                response = await self._subscriber._open(self.seq, resume=True)
                if response is None:
                    log.warning("segment %s/%d cut after %d bytes", self._url, self.seq, delivered)
                    return
                self._response = response

    async def read(self) -> bytes:
        """The whole segment (waits for its end)."""
        return b"".join([chunk async for chunk in self.aiter_bytes()])

    async def aclose(self) -> None:
        await self._response.aclose()

    @property
    def _url(self) -> str:
        return self._subscriber.url


class TrickleSubscriber:
    """Subscribe to a trickle channel: ``async for segment in subscriber: ...``.

    Each segment must be consumed (or abandoned) before the next is yielded; the next one
    is already being requested meanwhile. Only the current and the pre-connected response
    are open, and their bodies are read only as fast as the consumer reads (buffering is
    bounded by the socket buffers).
    """

    def __init__(
        self,
        url: str,
        start_seq: int = SEQ_CURRENT,
        *,
        retry: RetryPolicy | None = None,
        client: httpx.AsyncClient | None = None,
        refresh_interval: float = 20.0,
    ) -> None:
        """``url`` is the channel URL (``http://host:port/<channel>``). ``start_seq``: -2
        current segment, -1 next one, or an absolute seq. ``refresh_interval``: re-issue a
        pre-connected GET that waited this long without an answer (as go-livepeer does).
        """
        if start_seq < SEQ_CURRENT:
            raise ValueError(f"start_seq must be >= {SEQ_CURRENT}, got {start_seq}")
        self.url = url.rstrip("/")
        self.seq = start_seq  # the next seq to request
        self.retry = retry or RetryPolicy()
        self.stats = SubscriberStats()
        self._pending: asyncio.Task[httpx.Response | None] | None = None
        self._owns_client = client is None
        self._client = client or new_client(httpx.Timeout(10.0, read=refresh_interval, pool=None))

    async def __aenter__(self) -> TrickleSubscriber:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Drop the pre-connected request and, if this subscriber made it, the client."""
        if self._pending is not None:
            await _cancel_and_close(self._pending)
            self._pending = None
        if self._owns_client:
            await self._client.aclose()

    def __aiter__(self) -> AsyncIterator[TrickleSegment]:
        return self.segments()

    async def segments(self) -> AsyncIterator[TrickleSegment]:
        """Yield segments in order until the channel ends."""
        try:
            while True:
                if self._pending is None:
                    response = await self._open(self.seq)
                else:
                    response = await self._pending
                    self._pending = None
                if response is None:
                    return
                seq = parse_seq_header(response.headers.get(SEQ_HEADER))
                if seq is None or seq < 0:
                    seq = max(self.seq, 0)
                self.seq = seq + 1
                self._pending = asyncio.create_task(self._open(self.seq))
                segment = TrickleSegment(self, response, seq)
                self.stats.segments += 1
                try:
                    yield segment
                finally:
                    await segment.aclose()
        finally:
            if self._pending is not None:
                await _cancel_and_close(self._pending)
                self._pending = None

    async def _open(self, seq: int, *, resume: bool = False) -> httpx.Response | None:
        """GET ``seq`` until its headers arrive; None at end of stream.

        With ``resume`` (re-requesting a cut segment) a 470 or the end of the channel means
        the segment is gone: None as well, instead of jumping ahead.
        """
        delays = self.retry.delays()
        recovering = resume
        while True:
            url = f"{self.url}/{seq}"
            try:
                response = await self._client.send(
                    self._client.build_request("GET", url), stream=True
                )
            except httpx.ReadTimeout:
                log.debug("refreshing pre-connected GET %s", url)
                continue
            except httpx.TransportError as exc:
                failure: Exception = exc
            else:
                status = response.status_code
                if status == 200 and CLOSED_HEADER not in response.headers:
                    return response
                await response.aread()
                await response.aclose()
                if status == 200:
                    log.info("trickle channel %s closed", self.url)
                    return None
                if status == STATUS_SEGMENT_MISSING:
                    if resume:
                        return None
                    latest = parse_seq_header(response.headers.get(LATEST_HEADER))
                    log.info("%s: segment %d not available, jumping to %s", self.url, seq, latest)
                    self.stats.jumps += 1
                    seq = latest if latest is not None and latest >= 0 else SEQ_NEXT
                    continue
                if status == 404 and not recovering:
                    if self.stats.segments == 0:
                        raise ChannelNotFoundError("trickle channel not found", url=self.url)
                    log.info("trickle channel %s deleted", self.url)
                    return None
                failure = TrickleStatusError("GET", url, status, response.text)
                if status != 404 and status < 500:
                    raise failure
            delay = next(delays, None)
            if delay is None:
                raise TrickleConnectionError(
                    f"GET segment {seq} kept failing: {failure!r}", url=self.url
                ) from failure
            log.info("GET %s failed (%r); retrying in %.2fs", url, failure, delay)
            self.stats.retries += 1
            recovering = True
            await asyncio.sleep(delay)


async def _cancel_and_close(task: asyncio.Task[httpx.Response | None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        response = await task
        if response is not None:
            await response.aclose()
