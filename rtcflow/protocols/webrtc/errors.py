"""The exceptions of the WebRTC protocol layer.

``WebRTCError`` is the root. HTTP signaling failures (RFC 9725 section 4, WHEP draft
section 4) carry the request, the status and the server's body text; media failures
say whether the session never connected or was lost after connecting.
"""

from __future__ import annotations

from urllib.parse import urlsplit

__all__ = [
    "ConnectionFailed",
    "ProtocolViolation",
    "ServerUnavailable",
    "SessionClosed",
    "SessionRejected",
    "SignalingError",
    "TrackEnded",
    "Unauthorized",
    "WebRTCError",
]

BODY_EXCERPT = 500
"""Characters of a server's error body kept in messages."""


def redact_url(url: str | None) -> str:
    """A URL for messages and logs: the origin only, since WHIP/WHEP paths often hold a
    stream key (e.g. Livepeer's ``/live/video-to-video/<key>/whip``)."""
    parts = urlsplit(url or "")
    if not parts.netloc:
        return "?"
    return f"{parts.scheme}://{parts.netloc}" + ("/…" if parts.path.strip("/") else "")


class WebRTCError(Exception):
    """Any failure of a WHIP/WHEP session."""


class SignalingError(WebRTCError):
    """An HTTP exchange with a WHIP/WHEP server failed.

    ``status`` is ``None`` when no response came back (connection refused, timeout).
    """

    def __init__(
        self,
        message: str,
        *,
        method: str,
        url: str,
        status: int | None = None,
        body: str = "",
    ) -> None:
        self.method = method
        self.url = url
        self.status = status
        self.body = body
        detail = f"{method} {redact_url(url)}"
        if status is not None:
            detail += f" -> {status}"
        text = f"{message} ({detail})"
        if body.strip():
            text += f": {body.strip()[:BODY_EXCERPT]}"
        super().__init__(text)


class SessionRejected(SignalingError):
    """The server refused the request (4xx): retrying it unchanged will not help."""


class Unauthorized(SessionRejected):
    """The server refused the credentials (401/403): check the Bearer token."""


class ServerUnavailable(SignalingError):
    """The server cannot take the session now.

    Raised for 5xx answers, for unreachable servers, and when the server kept answering
    a retryable status (503; for WHEP also 404/409/429) past the retry deadline.
    ``retry_after`` is the server's last ``Retry-After`` in seconds, if it sent one.
    """

    def __init__(
        self,
        message: str,
        *,
        method: str,
        url: str,
        status: int | None = None,
        body: str = "",
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, method=method, url=url, status=status, body=body)
        self.retry_after = retry_after


class ProtocolViolation(SignalingError):
    """The server's answer breaks WHIP/WHEP (no ``Location``, no SDP, bad SDP, 301)."""


class ConnectionFailed(WebRTCError):
    """Signaling succeeded but ICE/DTLS did not connect."""


class SessionClosed(WebRTCError):
    """An established session ended: the peer closed it or stopped answering."""


class TrackEnded(WebRTCError):
    """A received track ended: no more frames will come."""
