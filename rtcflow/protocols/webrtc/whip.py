"""WHIP client: publish one video track to a WHIP endpoint (RFC 9725).

The offer is sendonly, max-bundle, and carries every candidate aiortc gathered in
``setLocalDescription()`` (aiortc has no local trickle, RFC 9725 section 4.3.2 allows
that). ``POST`` answers ``201`` with the SDP answer and ``Location``; ``DELETE`` on it
ends the session. ``503`` is retried honouring ``Retry-After`` (section 4.7).
"""

from __future__ import annotations

from collections.abc import Sequence

import httpx
from aiortc import MediaStreamTrack, RTCIceServer

from rtcflow.protocols.webrtc.codecs import EncoderBitrateTrack, VideoCodec, codec_preferences
from rtcflow.protocols.webrtc.errors import ProtocolViolation
from rtcflow.protocols.webrtc.session import ClientSession

__all__ = ["WhipClient"]


class WhipClient(ClientSession):
    """Publishes a video track to ``url``.

    ``codec`` is the only codec offered (H.264 constrained baseline, or VP8);
    ``bitrate`` (bits/s) is the encoder's start target and ceiling (see
    :class:`~rtcflow.protocols.webrtc.codecs.EncoderBitrateTrack`). The client never
    stops the given track, so its owner can publish it again in a new session.

    ::

        async with WhipClient(url, token=key, codec="h264") as whip:
            await whip.start(track)
            reason = await whip.wait_closed()
    """

    def __init__(
        self,
        url: str,
        *,
        token: str | None = None,
        codec: VideoCodec = "h264",
        bitrate: int | None = None,
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
        self._preferences = codec_preferences(codec)
        self._relay: EncoderBitrateTrack | None = None
        self.bitrate = bitrate

    @property
    def encoder_bitrate(self) -> int | None:
        """The encoder's current target in bits/s (``None`` until it encodes)."""
        return self._relay.target_bitrate if self._relay is not None else None

    async def start(self, track: MediaStreamTrack) -> None:
        """Create the session and wait until media flows; raises a ``WebRTCError``."""
        if track.kind != "video":
            raise ValueError(f"WhipClient publishes video, got a {track.kind} track")
        if self._pc is not None:
            raise RuntimeError("a WhipClient runs one session; create a new one")
        try:
            pc = self._new_peer_connection()
            self._relay = EncoderBitrateTrack(track, self.bitrate)
            transceiver = pc.addTransceiver(self._relay, direction="sendonly")
            transceiver.setCodecPreferences(self._preferences)
            self._relay.bind(transceiver.sender)
            await pc.setLocalDescription(await pc.createOffer())
            response = await self._post(pc.localDescription.sdp, accepted={201})
            await self._set_remote(pc, response, "answer")
            if transceiver.currentDirection not in ("sendonly", "sendrecv"):
                raise ProtocolViolation(
                    f"the answer does not accept our video ({self.codec})",
                    method="POST",
                    url=str(response.url),
                    status=response.status_code,
                    body=response.text,
                )
            await self._await_connected()
        except BaseException as exc:
            await self._fail_start(exc)
            raise
