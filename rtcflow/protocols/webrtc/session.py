"""What the WHIP and WHEP clients share: one HTTP resource bound to one peer connection.

A session goes ``new → connecting → connected`` and ends ``closed`` (stopped, or closed
by the peer) or ``failed``. It ends on its own when the peer connection fails, when the
peer closes DTLS (RFC 6347 close_notify), or when nothing has come from the peer for
``liveness_timeout`` seconds: aioice's consent checks (RFC 7675) take about 30 s to
notice a vanished peer, while RTCP reports arrive every second or so. A session does not
reconnect; :meth:`ClientSession.wait_closed` tells its owner when to start a new one.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
from collections.abc import Collection, Sequence
from typing import Self

import httpx
from aiortc import (
    RTCBundlePolicy,
    RTCConfiguration,
    RTCIceServer,
    RTCPeerConnection,
    RTCSessionDescription,
)

from rtcflow.protocols.webrtc.errors import (
    ConnectionFailed,
    ProtocolViolation,
    SessionClosed,
    WebRTCError,
    redact_url,
)
from rtcflow.protocols.webrtc.ice_servers import ice_servers_from_links
from rtcflow.protocols.webrtc.signaling import Signaling, raise_for_status

__all__ = ["ClientSession", "SessionState"]

logger = logging.getLogger(__name__)


class SessionState(enum.StrEnum):
    NEW = "new"
    CONNECTING = "connecting"
    CONNECTED = "connected"
    CLOSED = "closed"
    FAILED = "failed"


class ClientSession:
    """Base of :class:`WhipClient` and :class:`WhepClient`; one instance, one session.

    ``ice_servers`` are used for gathering; STUN/TURN servers the server announces in
    ``Link`` headers land in ``announced_ice_servers`` for the owner's next session
    (aiortc cannot add servers to a running session). ``response_headers`` keeps the
    headers of the answer that created the session (e.g. ``Livepeer-Playback-URL``).
    """

    #: Statuses retried (with backoff and ``Retry-After``) until ``retry_deadline``.
    retry_statuses: frozenset[int] = frozenset({503})

    def __init__(
        self,
        url: str,
        *,
        token: str | None = None,
        ice_servers: Sequence[RTCIceServer] = (),
        request_timeout: float = 10.0,
        connect_timeout: float = 30.0,
        retry_deadline: float = 30.0,
        liveness_timeout: float = 10.0,
        http: httpx.AsyncClient | None = None,
    ) -> None:
        self.url = url
        self.ice_servers = list(ice_servers)
        self.connect_timeout = connect_timeout
        self.retry_deadline = retry_deadline
        self.liveness_timeout = liveness_timeout
        self.announced_ice_servers: list[RTCIceServer] = []
        self.session_url: str | None = None
        self.etag: str | None = None
        self.response_headers = httpx.Headers()
        self.state = SessionState.NEW
        self.error: WebRTCError | None = None
        self._signaling = Signaling(token=token, timeout=request_timeout, http=http)
        self._pc: RTCPeerConnection | None = None
        self._connected = asyncio.Event()
        self._ended = asyncio.Event()
        self._stopping = False
        self._watchdog: asyncio.Task[None] | None = None
        self._closing: set[asyncio.Task[None]] = set()

    @property
    def pc(self) -> RTCPeerConnection | None:
        """The current peer connection (``None`` before ``start()``)."""
        return self._pc

    async def wait_closed(self) -> WebRTCError | None:
        """Wait until the session ends; the reason, or ``None`` after :meth:`stop`."""
        await self._ended.wait()
        return self.error

    async def stop(self) -> None:
        """End the session: DELETE its resource, close the peer connection. Idempotent.

        A failed DELETE is logged, not raised: the session is over either way.
        """
        if self._stopping:
            await self._ended.wait()
            return
        self._stopping = True
        if self._watchdog is not None:
            self._watchdog.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watchdog
        if self.session_url is not None:
            try:
                response = await self._signaling.request("DELETE", self.session_url)
                raise_for_status(response, {200, 202, 204})
            except WebRTCError as exc:
                logger.warning(
                    "could not delete WebRTC session at %s: %s", redact_url(self.session_url), exc
                )
        if self._pc is not None:
            await self._pc.close()
        # Never cancelled: aiortc's close() cannot be resumed once interrupted.
        await asyncio.gather(*self._closing)
        await self._signaling.aclose()
        if self.state != SessionState.FAILED:
            self.state = SessionState.CLOSED
        self._ended.set()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    # -- for subclasses ------------------------------------------------------------

    def _new_peer_connection(self) -> RTCPeerConnection:
        """A peer connection (max-bundle), replacing and closing any previous one."""
        if self._pc is not None:
            self._close_in_background(self._pc)
        # An explicit list: with None, aiortc would gather against Google's STUN server.
        servers = [*self.ice_servers, *self.announced_ice_servers]
        pc = RTCPeerConnection(
            RTCConfiguration(iceServers=servers, bundlePolicy=RTCBundlePolicy.MAX_BUNDLE)
        )
        pc.on("connectionstatechange", lambda: self._on_connection_state(pc))
        self._pc = pc
        self.state = SessionState.CONNECTING
        return pc

    async def _post(self, sdp: str, accepted: Collection[int]) -> httpx.Response:
        """POST an offer, retrying ``retry_statuses``; record the created resource."""
        response = await self._signaling.request_until_available(
            "POST",
            self.url,
            body=sdp,
            content_type="application/sdp",
            retry_statuses=self.retry_statuses,
            deadline=self.retry_deadline,
        )
        raise_for_status(response, accepted)
        request = response.request
        location = response.headers.get("location")
        if not location:
            raise ProtocolViolation(
                f"{response.status_code} without a Location header",
                method=request.method,
                url=str(request.url),
                status=response.status_code,
            )
        self.session_url = str(response.url.join(location))
        self.etag = response.headers.get("etag")
        self.response_headers = response.headers
        self.announced_ice_servers = ice_servers_from_links(response.headers.get_list("link"))
        content_type = response.headers.get("content-type", "").split(";")[0].strip()
        if content_type != "application/sdp" or not response.text.strip():
            raise ProtocolViolation(
                f"expected an application/sdp body, got {content_type or 'none'!r}",
                method=request.method,
                url=str(request.url),
                status=response.status_code,
                body=response.text,
            )
        return response

    async def _set_remote(self, pc: RTCPeerConnection, response: httpx.Response, kind: str) -> None:
        """Apply the server's SDP ``kind`` ("answer" or "offer") from ``response``."""
        try:
            await pc.setRemoteDescription(RTCSessionDescription(sdp=response.text, type=kind))
        except Exception as exc:  # aiortc raises assorted errors for bad SDP
            raise ProtocolViolation(
                f"the server's SDP {kind} was not accepted: {exc or type(exc).__name__}",
                method=response.request.method,
                url=str(response.request.url),
                status=response.status_code,
            ) from exc

    async def _await_connected(self) -> None:
        """Wait for ICE and DTLS, then watch the session's liveness."""
        connected = asyncio.ensure_future(self._connected.wait())
        ended = asyncio.ensure_future(self._ended.wait())
        try:
            await asyncio.wait(
                (connected, ended),
                timeout=self.connect_timeout,
                return_when=asyncio.FIRST_COMPLETED,
            )
        finally:
            connected.cancel()
            ended.cancel()
        if not self._connected.is_set():
            state = self._pc.connectionState if self._pc else "none"
            raise ConnectionFailed(
                f"ICE/DTLS did not connect within {self.connect_timeout:g} s (state {state})"
            )
        if self._pc is not None:
            self._watchdog = asyncio.ensure_future(self._watch_liveness(self._pc))

    async def _fail_start(self, error: BaseException) -> None:
        """Clean up after ``start()`` raised: the resource is deleted, nothing leaks."""
        await self.stop()
        self.state = SessionState.FAILED
        if isinstance(error, WebRTCError):
            self.error = error

    # -- internals -----------------------------------------------------------------

    def _close_in_background(self, pc: RTCPeerConnection) -> None:
        task = asyncio.ensure_future(pc.close())
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    def _on_connection_state(self, pc: RTCPeerConnection) -> None:
        if pc is not self._pc or self._stopping:
            return
        if pc.connectionState == "connected":
            self.state = SessionState.CONNECTED
            self._connected.set()
        elif pc.connectionState == "failed":
            self._end(SessionClosed("the connection to the peer failed (ICE/DTLS)"))
        elif pc.connectionState == "closed":
            self._end(SessionClosed("the peer closed the session"))

    def _end(self, error: WebRTCError) -> None:
        if self._ended.is_set():
            return
        logger.warning(
            "WebRTC session at %s ended: %s", redact_url(self.session_url or self.url), error
        )
        self.error = error
        self.state = SessionState.FAILED
        self._ended.set()
        if self._pc is not None:
            self._close_in_background(self._pc)

    async def _watch_liveness(self, pc: RTCPeerConnection) -> None:
        loop = asyncio.get_running_loop()
        last_count = -1
        last_change = loop.time()
        while not self._ended.is_set():
            await asyncio.sleep(min(1.0, self.liveness_timeout / 4))
            with contextlib.suppress(Exception):  # stats of a closing connection
                report = await pc.getStats()
                count = sum(s.packetsReceived for s in report.values() if s.type == "transport")
                if count != last_count:
                    last_count, last_change = count, loop.time()
            if loop.time() - last_change > self.liveness_timeout:
                self._end(
                    SessionClosed(f"nothing came from the peer for {self.liveness_timeout:g} s")
                )
