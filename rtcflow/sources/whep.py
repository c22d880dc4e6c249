"""The ``whep`` source: plays a WHEP stream (draft-ietf-wish-whep) into the flow.

One :class:`~rtcflow.protocols.webrtc.WhepClient` session at a time. While the stream is
not live the client retries the server's 404/409/429/503 answers (honouring
``Retry-After``); when a session fails or ends, a new one is started after an
exponential backoff, for as long as the flow runs. A refused token or request (4xx) is
not retried: the source fails with the server's answer, and editing the spec starts it
again. Only the newest received frame is kept (``FrameReceiver``), so a slow flow
never queues video.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

from rtcflow.media.convert import fitted
from rtcflow.media.frame import VideoFrame
from rtcflow.protocols.retry import Backoff
from rtcflow.protocols.webrtc import (
    ServerUnavailable,
    SessionRejected,
    WebRTCError,
    WhepClient,
)
from rtcflow.sources.base import Source, SourceError
from rtcflow.spec.models import VideoSpec, WhepSourceSpec

__all__ = ["WhepSource"]

log = logging.getLogger(__name__)


class WhepSource(Source):
    """Frames of the WHEP stream at ``spec.url``, cover-fitted to ``video``."""

    live = True

    def __init__(self, spec: WhepSourceSpec, video: VideoSpec) -> None:
        super().__init__(spec, video)
        self.spec: WhepSourceSpec = spec
        self.sessions = 0
        self.frames_received = 0
        self.last_error: str | None = None
        self._client: WhepClient | None = None
        self._backoff = Backoff(initial=0.5, maximum=10.0)

    async def frames(self) -> AsyncIterator[VideoFrame]:
        while True:
            retry_after: float | None = None
            try:
                async for frame in self._play():
                    yield frame
                self.last_error = "the stream ended"
            except SessionRejected as exc:  # 4xx, 401/403 included: retrying will not help
                raise SourceError(f"whep source {self.spec.url}: {exc}") from exc
            except WebRTCError as exc:
                self.last_error = str(exc)
                if isinstance(exc, ServerUnavailable):
                    retry_after = exc.retry_after
            delay = self._backoff.delay(retry_after)
            log.warning(
                "whep source %s: %s; reconnecting in %.1f s", self.spec.url, self.last_error, delay
            )
            await asyncio.sleep(delay)

    async def _play(self) -> AsyncIterator[VideoFrame]:
        """One session: its frames until it ends."""
        token = self.spec.token.get_secret_value() if self.spec.token else None
        client = WhepClient(self.spec.url, token=token)
        self._client = client
        try:
            receiver = await client.start()
            self.sessions += 1
            self._backoff.reset()
            self.last_error = None
            async for frame in fitted(receiver, self.video.width, self.video.height):
                self.frames_received += 1
                yield frame
            if client.error is not None:
                raise client.error
        finally:
            self._client = None
            await client.stop()

    async def close(self) -> None:
        if self._client is not None:
            await self._client.stop()

    def status(self) -> dict[str, Any]:
        client = self._client
        receiver = client.receiver if client is not None else None
        return {
            "url": self.spec.url,
            "state": client.state.value if client is not None else "waiting",
            "sessions": self.sessions,
            "frames_received": self.frames_received,
            "frames_dropped": receiver.dropped if receiver is not None else 0,
            "last_error": self.last_error,
        }
