"""Codec choice and encoder bitrate for aiortc video senders.

- H.264 is offered as constrained baseline (``profile-level-id=42e01f``, RFC 6184
  section 8.1) first and baseline (``42001f``) second: the same aiortc bitstream, and
  Livepeer's WHIP ingest takes only H.264. VP8 (RFC 7741) is cheaper on CPU.
- aiortc has no bitrate API (aiortc issue #402): its encoders start at a default target
  and follow the receiver's REMB estimates. :class:`EncoderBitrateTrack` holds the
  sender's encoder at a configured target instead.
"""

from __future__ import annotations

from typing import Any, Literal, get_args

import av
from aiortc import MediaStreamTrack, RTCRtpCodecCapability, RTCRtpSender

__all__ = ["EncoderBitrateTrack", "VideoCodec", "codec_preferences"]

VideoCodec = Literal["h264", "vp8"]

_H264_PROFILES = ("42e01f", "42001f")  # constrained baseline first, then baseline


def codec_preferences(codec: VideoCodec) -> list[RTCRtpCodecCapability]:
    """aiortc's capabilities for ``codec`` in preference order, with RTX (RFC 4588)."""
    if codec not in get_args(VideoCodec):
        raise ValueError(
            f"unsupported video codec {codec!r}; expected one of {get_args(VideoCodec)}"
        )
    capabilities = RTCRtpSender.getCapabilities("video").codecs
    if codec == "h264":
        chosen = [
            c
            for profile in _H264_PROFILES
            for c in capabilities
            if c.mimeType == "video/H264" and c.parameters.get("profile-level-id") == profile
        ]
    else:
        chosen = [c for c in capabilities if c.mimeType == "video/VP8"]
    return chosen + [c for c in capabilities if c.mimeType == "video/rtx"]


def sender_encoder(sender: RTCRtpSender) -> Any:
    """The encoder aiortc created for ``sender`` (after its first frame), or ``None``.

    aiortc keeps it in a private attribute; this is the one place that reaches for it.
    """
    return getattr(sender, "_RTCRtpSender__encoder", None)


class EncoderBitrateTrack(MediaStreamTrack):
    """Relays a video track to one sender and holds that sender's encoder bitrate.

    ``bitrate`` (bits/s) is the encoder's start target and its ceiling: REMB feedback
    may lower the target but not raise it above ``bitrate``. aiortc clamps targets per
    codec (H.264 0.5-3 Mbps, VP8 0.25-1.5 Mbps). With ``bitrate=None`` the relay
    changes nothing. The relay never stops ``source``: its owner does, so one source
    track can outlive several sessions.
    """

    kind = "video"

    def __init__(self, source: MediaStreamTrack, bitrate: int | None = None) -> None:
        super().__init__()
        if bitrate is not None and bitrate <= 0:
            raise ValueError(f"bitrate must be positive, not {bitrate}")
        self.source = source
        self.bitrate = bitrate
        self._sender: RTCRtpSender | None = None
        self._configured: Any = None

    def bind(self, sender: RTCRtpSender) -> None:
        """Attach the sender whose encoder this relay controls."""
        self._sender = sender

    @property
    def target_bitrate(self) -> int | None:
        """The encoder's current target in bits/s (``None`` before the first frame)."""
        encoder = sender_encoder(self._sender) if self._sender is not None else None
        return getattr(encoder, "target_bitrate", None)

    async def recv(self) -> av.VideoFrame:
        frame = await self.source.recv()
        if self.bitrate is not None and self._sender is not None:
            # aiortc creates the encoder after the first recv() and reads the target
            # right after each later one; it reopens its codec only on a >10 % change.
            encoder = sender_encoder(self._sender)
            if encoder is not None and (
                encoder is not self._configured or encoder.target_bitrate > self.bitrate
            ):
                encoder.target_bitrate = self.bitrate
                self._configured = encoder
        return frame
