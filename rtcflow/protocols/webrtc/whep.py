"""WHEP client: play one video stream from a WHEP endpoint (draft-ietf-wish-whep).

Both modes of the draft are supported:

- client offer: ``POST`` a recvonly offer, the server answers ``201`` + SDP answer;
- counter offer: the server answers ``406 Not Acceptable`` with its own sendonly offer
  and ``Location``; the player ``PATCH``es an ``application/sdp`` answer there (``204``).

Until a stream is live servers answer ``409`` (the draft), ``404`` (Livepeer's gateway
before output exists) or ``429`` (over a viewer limit): all are retried with backoff,
honouring ``Retry-After``, until ``retry_deadline``.
"""

from __future__ import annotations

from collections.abc import Sequence

import httpx
from aiortc import RTCIceServer, RTCPeerConnection

from rtcflow.protocols.webrtc.codecs import VideoCodec, codec_preferences
from rtcflow.protocols.webrtc.errors import ProtocolViolation
from rtcflow.protocols.webrtc.session import ClientSession
from rtcflow.protocols.webrtc.signaling import raise_for_status
from rtcflow.protocols.webrtc.tracks import FrameReceiver

__all__ = ["WhepClient"]


class WhepClient(ClientSession):
    """Plays the video of ``url``; frames come from :attr:`receiver`, latest wins.

    ``codec`` restricts the offer to one codec (default: any aiortc decodes).

    ::

        async with WhepClient(url) as whep:
            receiver = await whep.start()
            async for frame in receiver:
                ...
    """

    retry_statuses = frozenset({404, 409, 429, 503})

    def __init__(
        self,
        url: str,
        *,
        token: str | None = None,
        codec: VideoCodec | None = None,
        ice_servers: Sequence[RTCIceServer] = (),
        request_timeout: float = 10.0,
        connect_timeout: float = 30.0,
        retry_deadline: float = 30.0,
        liveness_timeout: float = 10.0,
        http: httpx.AsyncClient | None = None,
    ) -> None:
        super().__init__(
            url,
            token=token,
            ice_servers=ice_servers,
            request_timeout=request_timeout,
            connect_timeout=connect_timeout,
            retry_deadline=retry_deadline,
            liveness_timeout=liveness_timeout,
            http=http,
        )
        self.codec = codec
        self._preferences = codec_preferences(codec) if codec is not None else []
        self.receiver: FrameReceiver | None = None
        self.counter_offer = False

    async def start(self) -> FrameReceiver:
        """Create the session and wait until media flows; raises a ``WebRTCError``."""
        if self._pc is not None:
            raise RuntimeError("a WhepClient runs one session; create a new one")
        try:
            pc = self._new_peer_connection()
            transceiver = pc.addTransceiver("video", direction="recvonly")
            transceiver.setCodecPreferences(self._preferences)
            await pc.setLocalDescription(await pc.createOffer())
            response = await self._post(pc.localDescription.sdp, accepted={201, 406})
            if response.status_code == 201:
                await self._set_remote(pc, response, "answer")
            else:
                pc = await self._answer_counter_offer(response)
            track = next(
                (
                    t.receiver.track
                    for t in pc.getTransceivers()
                    if t.kind == "video" and t.receiver.track is not None
                ),
                None,
            )
            if track is None:
                raise ProtocolViolation(
                    "the server's SDP sends no video",
                    method="POST",
                    url=self.url,
                    status=response.status_code,
                    body=response.text,
                )
            self.receiver = FrameReceiver(track)
            await self._await_connected()
        except BaseException as exc:
            await self._fail_start(exc)
            raise
        return self.receiver

    async def stop(self) -> None:
        if self.receiver is not None:
            await self.receiver.close()
        await super().stop()

    async def _answer_counter_offer(self, response: httpx.Response) -> RTCPeerConnection:
        """Answer the server's 406 offer on a fresh peer connection and PATCH it back."""
        self.counter_offer = True
        pc = self._new_peer_connection()
        await self._set_remote(pc, response, "offer")
        for transceiver in pc.getTransceivers():
            if transceiver.kind != "video":
                transceiver.direction = "inactive"
            elif self._preferences:
                transceiver.setCodecPreferences(self._preferences)
        await pc.setLocalDescription(await pc.createAnswer())
        assert self.session_url is not None  # set by _post()
        headers = {"If-Match": self.etag} if self.etag else None
        patched = await self._signaling.request(
            "PATCH",
            self.session_url,
            body=pc.localDescription.sdp,
            content_type="application/sdp",
            headers=headers,
        )
        raise_for_status(patched, {200, 204})
        return pc
