"""The emulator's media over real WebRTC: WHIP in, the effect, WHEP out, per stream.

It behaves as Livepeer's gateway does toward a Daydream client (the Daydream notes,
"Getting the processed output back"):

- ``POST /whip/{stream_id}`` takes a WHIP publisher (RFC 9725); the ``201`` answer names
  the output in ``Livepeer-Playback-URL: <origin>/whep/{stream_id}``. A new publisher
  replaces the stream's current one. Unknown streams answer 404.
- Each received frame becomes ``apply_effect(frame, params)`` with the stream's params at
  that moment, so a PATCH changes the very next output frame.
- ``POST /whep/{stream_id}`` (WHEP) answers ``404`` + ``Retry-After`` until the stream has
  output, then serves it to at most ``max_viewers`` players (``429`` beyond).
- ``warmup`` seconds pass between a stream's first input frame and its first output, the
  way the service loads its pipeline (WHEP answers 404 meanwhile).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field

from aiohttp import web

from rtcflow.daydream.emulator.effect import apply_effect
from rtcflow.daydream.emulator.media import WHEP_ROUTE, WHIP_ROUTE
from rtcflow.daydream.params import BaseStreamDiffusionParams
from rtcflow.media.frame import VideoFrame
from rtcflow.protocols.webrtc import (
    FrameBroadcaster,
    ServerSession,
    WhepEndpoint,
    WhipEndpoint,
)

__all__ = ["PLAYBACK_URL_HEADER", "WebRTCMedia"]

logger = logging.getLogger(__name__)

PLAYBACK_URL_HEADER = "Livepeer-Playback-URL"


@dataclass
class _StreamMedia:
    params: BaseStreamDiffusionParams
    output: FrameBroadcaster
    publisher: ServerSession | None = None
    frames_in: int = 0
    frames_out: int = 0
    first_input: float | None = None
    handlers: set[asyncio.Task[None]] = field(default_factory=set)


class _StreamWhipEndpoint(WhipEndpoint):
    """WHIP for known streams only (404 otherwise, as the gateway answers)."""

    def __init__(self, media: WebRTCMedia) -> None:
        super().__init__(media._on_publisher, connect_timeout=media.connect_timeout)
        self._media = media

    async def create_session(
        self, request: web.Request, offer: str | None
    ) -> tuple[ServerSession, int, str]:
        if request.match_info["stream_id"] not in self._media.streams:
            raise web.HTTPNotFound(text="no such stream\n")
        return await super().create_session(request, offer)


class WebRTCMedia:
    """A :class:`~rtcflow.daydream.emulator.media.MediaBackend` on aiortc.

    ``fps`` paces each player's track; ``warmup`` delays a stream's first output;
    ``max_viewers`` caps WHEP players per stream (the gateway allows about 5).
    """

    def __init__(
        self,
        *,
        fps: float = 30.0,
        warmup: float = 0.0,
        max_viewers: int | None = 5,
        connect_timeout: float = 30.0,
    ) -> None:
        self.fps = fps
        self.warmup = warmup
        self.max_viewers = max_viewers
        self.connect_timeout = connect_timeout
        self.streams: dict[str, _StreamMedia] = {}
        #: WHEP requests answered "not live yet" (404), per stream id.
        self.not_live_answers: dict[str, int] = {}
        self.whip = _StreamWhipEndpoint(self)
        self.whep = WhepEndpoint(
            self._output_of,
            not_live_status=404,
            connect_timeout=connect_timeout,
        )

    # -- MediaBackend ----------------------------------------------------------------------

    def mount(self, app: web.Application) -> None:
        self.whip.add_routes(app.router, WHIP_ROUTE)
        self.whep.add_routes(app.router, WHEP_ROUTE)
        app.on_response_prepare.append(self._add_playback_url)

    async def open_session(self, stream_id: str, params: BaseStreamDiffusionParams) -> None:
        self.streams[stream_id] = _StreamMedia(params, FrameBroadcaster(self.fps))

    async def update_params(self, stream_id: str, params: BaseStreamDiffusionParams) -> None:
        self.streams[stream_id].params = params

    async def close_session(self, stream_id: str) -> None:
        stream = self.streams.pop(stream_id, None)
        if stream is None:
            return
        stream.output.close()
        for endpoint in (self.whip, self.whep):
            for session in list(endpoint.sessions.values()):
                if session.match_info.get("stream_id") == stream_id:
                    endpoint.sessions.pop(session.id, None)
                    await session.close()
        await asyncio.gather(*stream.handlers, return_exceptions=True)

    async def close(self) -> None:
        for stream_id in list(self.streams):
            await self.close_session(stream_id)
        await self.whip.close()
        await self.whep.close()

    def frames(self, stream_id: str) -> tuple[int, int]:
        """Frames received from the publisher and frames output, of one stream."""
        stream = self.streams[stream_id]
        return stream.frames_in, stream.frames_out

    # -- internals -------------------------------------------------------------------------

    def _output_of(self, match_info: Mapping[str, str]) -> FrameBroadcaster | None:
        stream_id = match_info["stream_id"]
        stream = self.streams.get(stream_id)
        if stream is None or not stream.output.live:
            self.not_live_answers[stream_id] = self.not_live_answers.get(stream_id, 0) + 1
            return None
        if self.max_viewers is not None and stream.output.players >= self.max_viewers:
            raise web.HTTPTooManyRequests(
                text=f"at most {self.max_viewers} viewers per stream\n",
                headers={"Retry-After": "1"},
            )
        return stream.output

    async def _on_publisher(self, session: ServerSession) -> None:
        stream_id = session.match_info["stream_id"]
        stream = self.streams.get(stream_id)
        if stream is None:
            return
        task = asyncio.current_task()
        assert task is not None
        stream.handlers.add(task)
        previous, stream.publisher = stream.publisher, session
        try:
            if previous is not None:  # one publisher per stream: the newest wins
                self.whip.sessions.pop(previous.id, None)
                await previous.close()
            assert session.receiver is not None
            loop = asyncio.get_running_loop()
            async for frame in session.receiver:
                stream.frames_in += 1
                if stream.first_input is None:
                    stream.first_input = loop.time()
                if loop.time() - stream.first_input < self.warmup:
                    continue
                data = await asyncio.to_thread(apply_effect, frame.data, stream.params)
                stream.output.publish(VideoFrame(data, frame.pts, frame.time_base))
                stream.frames_out += 1
        finally:
            stream.handlers.discard(task)
            if stream.publisher is session:
                stream.publisher = None

    async def _add_playback_url(self, request: web.Request, response: web.StreamResponse) -> None:
        """Name the output in the WHIP answer, as Livepeer's gateway does."""
        if (
            request.method == "POST"
            and response.status == 201
            and request.match_info.route.resource is not None
            and request.match_info.route.resource.canonical == WHIP_ROUTE
        ):
            whep = WHEP_ROUTE.format(stream_id=request.match_info["stream_id"])
            response.headers[PLAYBACK_URL_HEADER] = f"{request.scheme}://{request.host}{whep}"
