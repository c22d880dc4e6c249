"""WHIP ingest endpoint (RFC 9725): publishers POST offers, their video reaches a handler.

Only video is taken: a publisher's other m-lines (OBS sends audio) are answered
``inactive``, so aiortc never decodes or queues them.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence

from aiohttp import web
from aiortc import RTCIceServer

from rtcflow.protocols.webrtc.endpoint import ServerSession, WebRTCEndpoint
from rtcflow.protocols.webrtc.tracks import FrameReceiver

__all__ = ["SessionHandler", "WhipEndpoint"]

logger = logging.getLogger(__name__)

SessionHandler = Callable[[ServerSession], Awaitable[None]]


class WhipEndpoint(WebRTCEndpoint):
    """Accepts WHIP publishers and runs ``on_session(session)`` for each.

    The handler runs as a task from the moment the session is created; iterate
    ``session.receiver`` for the publisher's frames (latest wins) — the iteration ends
    when the publisher leaves. ``session.match_info`` holds the route's variables (for
    example a stream key in ``/whip/{stream}``).
    """

    def __init__(
        self,
        on_session: SessionHandler,
        *,
        token: str | None = None,
        ice_servers: Sequence[RTCIceServer] = (),
        max_sessions: int | None = None,
        cors_origin: str | None = "*",
        connect_timeout: float = 30.0,
    ) -> None:
        super().__init__(
            token=token,
            ice_servers=ice_servers,
            max_sessions=max_sessions,
            cors_origin=cors_origin,
            connect_timeout=connect_timeout,
        )
        self.on_session = on_session

    async def create_session(
        self, request: web.Request, offer: str | None
    ) -> tuple[ServerSession, int, str]:
        if offer is None:
            raise web.HTTPBadRequest(text="WHIP needs an application/sdp offer in the POST body")
        pc = self.new_peer_connection()
        await self.set_remote(pc, offer, "offer")
        try:
            video = next(
                (
                    t
                    for t in pc.getTransceivers()
                    if t.kind == "video" and t.receiver.track is not None
                ),
                None,
            )
            if video is None:
                raise web.HTTPUnprocessableEntity(text="the offer sends no video")
            for transceiver in pc.getTransceivers():
                transceiver.direction = "recvonly" if transceiver is video else "inactive"
            await pc.setLocalDescription(await pc.createAnswer())
        except BaseException:
            await pc.close()
            raise
        session = ServerSession(pc, request.match_info)
        session.receiver = FrameReceiver(video.receiver.track)
        self.spawn(self._run_handler(session))
        return session, 201, pc.localDescription.sdp

    async def _run_handler(self, session: ServerSession) -> None:
        try:
            await self.on_session(session)
        except Exception:
            logger.exception("WHIP session handler failed (session %s)", session.id)
