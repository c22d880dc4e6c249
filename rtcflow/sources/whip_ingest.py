"""The ``whip`` source: frames from whoever publishes to the flow's WHIP endpoint.

rtcflow serves WHIP ingest (RFC 9725) on the control API at ``/flows/<name>/whip``
(``rtcflow.api.ingest``); that endpoint negotiates each publisher's session and hands
it to :meth:`WhipIngestSource.publish`. The source plays one publisher at a time: a
publisher whose session connects replaces the current one (so OBS reconnecting after a
network blip takes over at once instead of waiting for its old session to time out),
and the replaced session is closed. Between publishers the source yields nothing and
the flow's live output repeats its last frame.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from rtcflow.media.convert import fitted
from rtcflow.media.frame import VideoFrame
from rtcflow.protocols.webrtc import FrameReceiver, ServerSession
from rtcflow.sources.base import Source
from rtcflow.spec.models import VideoSpec, WhipIngestSourceSpec

__all__ = ["WhipIngestSource"]


class WhipIngestSource(Source):
    """The current publisher's frames, cover-fitted to ``video`` (latest frame wins)."""

    live = True

    def __init__(self, spec: WhipIngestSourceSpec, video: VideoSpec) -> None:
        super().__init__(spec, video)
        self.spec: WhipIngestSourceSpec = spec
        self.publishers = 0
        self.frames_received = 0
        self._session: ServerSession | None = None
        self._changed = asyncio.Event()
        self._closed = False

    @property
    def token(self) -> str | None:
        """The Bearer token publishers must send (``None``: anyone may publish)."""
        return self.spec.token.get_secret_value() if self.spec.token else None

    @property
    def publishing(self) -> bool:
        """Whether a publisher is connected."""
        return self._session is not None

    async def publish(self, session: ServerSession) -> None:
        """Play ``session`` once it connects, until it ends or a newer one replaces it."""
        connected = asyncio.ensure_future(session.connected.wait())
        closed = asyncio.ensure_future(session.wait_closed())
        try:
            await asyncio.wait((connected, closed), return_when=asyncio.FIRST_COMPLETED)
        except BaseException:
            closed.cancel()
            raise
        finally:
            connected.cancel()
        if self._closed or session.closed:
            closed.cancel()
            await session.close()
            return
        previous, self._session = self._session, session
        self.publishers += 1
        self._changed.set()
        if previous is not None:
            await previous.close()
        try:
            await closed
        finally:
            if self._session is session:
                self._session = None
                self._changed.set()

    async def frames(self) -> AsyncIterator[VideoFrame]:
        played: str | None = None
        while True:
            receiver, played = await self._next_publisher(played)
            async for frame in fitted(receiver, self.video.width, self.video.height):
                self.frames_received += 1
                yield frame

    async def _next_publisher(self, played: str | None) -> tuple[FrameReceiver, str]:
        """The receiver and id of the current session once it is not ``played``.

        Only ids are kept between sessions, so an ended session is not held alive.
        """
        while self._session is None or self._session.id == played:
            self._changed.clear()
            await self._changed.wait()
        assert self._session.receiver is not None
        return self._session.receiver, self._session.id

    async def close(self) -> None:
        """Stop taking publishers; the current one's session is closed."""
        self._closed = True
        if self._session is not None:
            with contextlib.suppress(Exception):
                await self._session.close()

    def status(self) -> dict[str, Any]:
        receiver = self._session.receiver if self._session is not None else None
        return {
            "publishing": self.publishing,
            "publishers": self.publishers,
            "frames_received": self.frames_received,
            "frames_dropped": receiver.dropped if receiver is not None else 0,
        }
