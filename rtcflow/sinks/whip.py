"""The ``whip`` sink: publishes the flow's output to a WHIP endpoint (RFC 9725).

``open()`` starts one :class:`~rtcflow.protocols.webrtc.WhipClient` session and waits
until media flows; ``write()`` hands frames to a paced track (latest frame wins) and
raises :class:`SinkError` once the session has ended, so the sink runner closes the
sink and opens a new session after a backoff while the flow's other sinks go on.
A keyframe is forced every ``keyframe_interval`` seconds (a new viewer of a Livepeer
stream starts at the next keyframe). The answer's ``Livepeer-Playback-URL`` header is
kept for status.
"""

from __future__ import annotations

from typing import Any

import av
from aiortc import RTCRtpSender

from rtcflow.media.frame import VideoFrame
from rtcflow.protocols.webrtc import FrameTrack, SessionState, WebRTCError, WhipClient
from rtcflow.sinks.base import Sink, SinkError
from rtcflow.spec.models import VideoSpec, WhipSinkSpec

__all__ = ["KeyframeTrack", "WhipSink"]

PLAYBACK_URL_HEADER = "Livepeer-Playback-URL"


class KeyframeTrack(FrameTrack):
    """A :class:`FrameTrack` whose sender encodes a keyframe every ``interval`` frames.

    Keyframes are requested through aiortc's sender the way a receiver's Picture Loss
    Indication does (RFC 4585 section 6.3.1): the next frame it encodes is a keyframe.
    """

    def __init__(self, fps: float, interval: int) -> None:
        super().__init__(fps)
        if interval < 1:
            raise ValueError(f"keyframe interval must be at least 1 frame, not {interval}")
        self.interval = interval
        self.keyframes_forced = 0
        self._sender: RTCRtpSender | None = None

    def bind(self, sender: RTCRtpSender) -> None:
        """Attach the sender whose encoder receives the keyframe requests."""
        self._sender = sender

    async def recv(self) -> av.VideoFrame:
        frame = await super().recv()
        index = self.sent - 1
        if self._sender is not None and index and index % self.interval == 0:
            self._sender._send_keyframe()  # aiortc's PLI handler: applies to this frame
            self.keyframes_forced += 1
        return frame


class WhipSink(Sink):
    """Publishes frames to ``spec.url``; one WHIP session per ``open()``."""

    def __init__(self, spec: WhipSinkSpec, video: VideoSpec) -> None:
        super().__init__(spec, video)
        self.spec: WhipSinkSpec = spec
        self.sessions = 0
        self.playback_url: str | None = None
        self._client: WhipClient | None = None
        self._track: KeyframeTrack | None = None

    async def open(self) -> None:
        interval = max(1, round(self.spec.keyframe_interval * self.video.fps))
        track = KeyframeTrack(self.video.fps, interval)
        token = self.spec.token.get_secret_value() if self.spec.token else None
        client = WhipClient(
            self.spec.url, token=token, codec=self.spec.codec, bitrate=self.spec.bitrate
        )
        try:
            await client.start(track)  # cleans up after itself when it raises
        except WebRTCError as exc:
            track.stop()
            raise SinkError(f"whip sink {self.spec.name!r}: {exc}") from exc
        assert client.pc is not None
        track.bind(client.pc.getSenders()[0])
        self._client, self._track = client, track
        self.sessions += 1
        self.playback_url = client.response_headers.get(PLAYBACK_URL_HEADER)

    async def write(self, frame: VideoFrame) -> None:
        if self._client is None or self._track is None:
            raise SinkError(f"whip sink {self.spec.name!r}: not open")
        if self._client.state is not SessionState.CONNECTED:
            reason = self._client.error or "the session ended"
            raise SinkError(f"whip sink {self.spec.name!r}: {reason}")
        self._track.put(frame)

    async def close(self) -> None:
        """End the session (DELETE) and stop the track."""
        client, track = self._client, self._track
        self._client = self._track = None
        if client is not None:
            await client.stop()
        if track is not None:
            track.stop()

    def status(self) -> dict[str, Any]:
        client, track = self._client, self._track
        return {
            "url": self.spec.url,
            "codec": self.spec.codec,
            "state": client.state.value if client is not None else "closed",
            "session_url": client.session_url if client is not None else None,
            "playback_url": self.playback_url,
            "sessions": self.sessions,
            "encoder_bitrate": client.encoder_bitrate if client is not None else None,
            "frames_sent": track.sent if track is not None else 0,
            "frames_repeated": track.repeated if track is not None else 0,
            "keyframes_forced": track.keyframes_forced if track is not None else 0,
        }
