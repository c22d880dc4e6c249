"""WHEP egress endpoint (draft-ietf-wish-whep): players get a broadcaster's frames.

A player's recvonly offer is answered ``201``. With ``counter_offer=True``, or when the
POST has no body, the server answers ``406 Not Acceptable`` with its own sendonly offer
and the player PATCHes its ``application/sdp`` answer to the session URL (``204``).
While nothing is live the endpoint answers ``not_live_status`` with ``Retry-After``
(the draft uses 409; Livepeer's gateway 404); beyond ``max_sessions``, ``429``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Literal

from aiohttp import web
from aiortc import RTCIceServer
from aiortc.sdp import SessionDescription

from rtcflow.protocols.webrtc.broadcast import FrameBroadcaster
from rtcflow.protocols.webrtc.endpoint import ServerSession, WebRTCEndpoint

__all__ = ["BroadcasterLookup", "WhepEndpoint"]

BroadcasterLookup = Callable[[Mapping[str, str]], FrameBroadcaster | None]

_NOT_LIVE: dict[int, type[web.HTTPException]] = {
    404: web.HTTPNotFound,
    409: web.HTTPConflict,
    503: web.HTTPServiceUnavailable,
}


class WhepEndpoint(WebRTCEndpoint):
    """Serves a :class:`FrameBroadcaster` to any number of WHEP players.

    ``source`` is one broadcaster, or a function of the route's variables returning
    the broadcaster to play (``None``: not live). Each player gets its own paced
    track, latest frame wins.
    """

    busy_error = web.HTTPTooManyRequests

    def __init__(
        self,
        source: FrameBroadcaster | BroadcasterLookup,
        *,
        counter_offer: bool = False,
        not_live_status: Literal[404, 409, 503] = 409,
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
        if not_live_status not in _NOT_LIVE:
            raise ValueError(f"not_live_status must be one of {sorted(_NOT_LIVE)}")
        self._lookup: BroadcasterLookup = (
            (lambda _: source) if isinstance(source, FrameBroadcaster) else source
        )
        self.counter_offer = counter_offer
        self.not_live_status = not_live_status

    async def create_session(
        self, request: web.Request, offer: str | None
    ) -> tuple[ServerSession, int, str]:
        broadcaster = self._lookup(request.match_info)
        if broadcaster is None or not broadcaster.live:
            raise _NOT_LIVE[self.not_live_status](
                text="the stream is not live yet", headers={"Retry-After": "1"}
            )
        pc = self.new_peer_connection()
        track = broadcaster.subscribe()
        try:
            if offer is None or self.counter_offer:
                pc.addTransceiver(track, direction="sendonly")
                await pc.setLocalDescription(await pc.createOffer())
                status = 406
            else:
                await self.set_remote(pc, offer, "offer")
                receiving = {
                    media.rtp.muxId
                    for media in SessionDescription.parse(offer).media
                    if media.kind == "video" and media.direction in ("recvonly", "sendrecv")
                }
                video = next(
                    (t for t in pc.getTransceivers() if t.kind == "video" and t.mid in receiving),
                    None,
                )
                if video is None:
                    raise web.HTTPUnprocessableEntity(text="the offer receives no video")
                video.sender.replaceTrack(track)
                for transceiver in pc.getTransceivers():
                    transceiver.direction = "sendonly" if transceiver is video else "inactive"
                await pc.setLocalDescription(await pc.createAnswer())
                status = 201
        except BaseException:
            track.stop()
            await pc.close()
            raise
        session = ServerSession(pc, request.match_info)
        session.track = track
        session.awaiting_answer = status == 406
        return session, status, pc.localDescription.sdp

    async def apply_answer(self, session: ServerSession, answer: str) -> None:
        if not session.awaiting_answer:
            raise web.HTTPUnprocessableEntity(
                text="this session has no pending offer; PATCH takes trickle ICE fragments"
            )
        await self.set_remote(session.pc, answer, "answer")
        session.awaiting_answer = False
