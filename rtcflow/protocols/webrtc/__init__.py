"""WebRTC over HTTP: WHIP (RFC 9725) and WHEP (draft-ietf-wish-whep) with aiortc.

Clients (httpx): :class:`WhipClient` publishes a track, :class:`WhepClient` plays one.
Server (aiohttp.web): :class:`WhipEndpoint` hands publishers' video to a handler,
:class:`WhepEndpoint` serves a :class:`FrameBroadcaster` to any number of players;
mount them in an app or run them with :class:`WebRTCServer`. Tracks:
:class:`FrameTrack` sends ``VideoFrame``s paced at a frame rate, :class:`FrameReceiver`
keeps the latest received frame. No flow logic lives here.
"""

from rtcflow.protocols.webrtc.broadcast import FrameBroadcaster
from rtcflow.protocols.webrtc.codecs import EncoderBitrateTrack, VideoCodec
from rtcflow.protocols.webrtc.endpoint import ServerSession, WebRTCEndpoint
from rtcflow.protocols.webrtc.errors import (
    ConnectionFailed,
    ProtocolViolation,
    ServerUnavailable,
    SessionClosed,
    SessionRejected,
    SignalingError,
    TrackEnded,
    Unauthorized,
    WebRTCError,
)
from rtcflow.protocols.webrtc.server import WebRTCServer
from rtcflow.protocols.webrtc.session import SessionState
from rtcflow.protocols.webrtc.tracks import FrameReceiver, FrameTrack
from rtcflow.protocols.webrtc.whep import WhepClient
from rtcflow.protocols.webrtc.whep_endpoint import WhepEndpoint
from rtcflow.protocols.webrtc.whip import WhipClient
from rtcflow.protocols.webrtc.whip_endpoint import SessionHandler, WhipEndpoint

__all__ = [
    "ConnectionFailed",
    "EncoderBitrateTrack",
    "FrameBroadcaster",
    "FrameReceiver",
    "FrameTrack",
    "ProtocolViolation",
    "ServerSession",
    "ServerUnavailable",
    "SessionClosed",
    "SessionHandler",
    "SessionRejected",
    "SessionState",
    "SignalingError",
    "TrackEnded",
    "Unauthorized",
    "VideoCodec",
    "WebRTCEndpoint",
    "WebRTCError",
    "WebRTCServer",
    "WhepClient",
    "WhepEndpoint",
    "WhipClient",
    "WhipEndpoint",
]
