"""JSON over trickle: the control (to the worker) and events (from the worker) channels.

One JSON object per segment, as ComfyStream, ai-runner and the Livepeer gateway use them;
``{"keep": "alive"}`` segments are keepalives and are skipped.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

from rtcflow.protocols.trickle.publisher import TricklePublisher
from rtcflow.protocols.trickle.subscriber import TrickleSubscriber
from rtcflow.protocols.trickle.wire import SEQ_CURRENT

log = logging.getLogger(__name__)

JSON_MIME_TYPE = "application/json"
KEEPALIVE = {"keep": "alive"}


class TrickleJsonSubscriber:
    """Yield each JSON object published on a channel: ``async for message in sub: ...``.

    A segment that is not a JSON object (or larger than ``max_message_bytes``) is logged
    with its seq and skipped, so one bad message never ends the stream.
    """

    def __init__(
        self,
        url: str,
        start_seq: int = SEQ_CURRENT,
        *,
        max_message_bytes: int = 1024 * 1024,
        **options: Any,
    ) -> None:
        """``options`` are passed to ``TrickleSubscriber``."""
        self.subscriber = TrickleSubscriber(url, start_seq, **options)
        self.max_message_bytes = max_message_bytes

    async def __aenter__(self) -> TrickleJsonSubscriber:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self.subscriber.aclose()

    async def __aiter__(self) -> AsyncIterator[dict[str, Any]]:
        async for segment in self.subscriber:
            data = bytearray()
            async for chunk in segment.aiter_bytes():
                data += chunk
                if len(data) > self.max_message_bytes:
                    break
            message = self._decode(segment.seq, bytes(data))
            if message is not None and message != KEEPALIVE:
                yield message

    def _decode(self, seq: int, data: bytes) -> dict[str, Any] | None:
        where = f"{self.subscriber.url}/{seq}"
        if not data.strip():
            return None
        if len(data) > self.max_message_bytes:
            log.warning("%s: message over %d bytes skipped", where, self.max_message_bytes)
            return None
        try:
            message = json.loads(data)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            log.warning("%s: invalid JSON skipped: %s", where, exc)
            return None
        if not isinstance(message, dict):
            log.warning(
                "%s: expected a JSON object, got %s; skipped", where, type(message).__name__
            )
            return None
        return message


class TrickleJsonPublisher:
    """Publish JSON objects, one per segment; optionally a keepalive when idle.

    ``keepalive_interval`` sends ``{"keep": "alive"}`` after that many seconds without a
    message (the gateway does this every 10 s on control channels).
    """

    def __init__(
        self, url: str, *, keepalive_interval: float | None = None, **options: Any
    ) -> None:
        """``options`` are passed to ``TricklePublisher``."""
        self.publisher = TricklePublisher(url, JSON_MIME_TYPE, **options)
        self.keepalive_interval = keepalive_interval
        self._lock = asyncio.Lock()  # one segment at a time
        self._keepalive: asyncio.Task[None] | None = None
        self._last_sent = 0.0

    async def __aenter__(self) -> TrickleJsonPublisher:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def start(self) -> None:
        await self.publisher.start()
        self._last_sent = asyncio.get_running_loop().time()
        if self.keepalive_interval and self._keepalive is None:
            self._keepalive = asyncio.create_task(self._send_keepalives(self.keepalive_interval))

    async def publish(self, message: dict[str, Any]) -> None:
        """Send one JSON object as one segment."""
        data = json.dumps(message, separators=(",", ":")).encode()
        async with self._lock:
            async with self.publisher.segment() as segment:
                await segment.write(data)
            self._last_sent = asyncio.get_running_loop().time()

    async def _send_keepalives(self, interval: float) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(max(0.0, self._last_sent + interval - loop.time()))
            if loop.time() - self._last_sent >= interval:
                await self.publish(KEEPALIVE)

    async def aclose(self) -> None:
        if self._keepalive is not None:
            self._keepalive.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._keepalive
            self._keepalive = None
        await self.publisher.aclose()
